//! `RuleEngineActor`: one mailbox for every entity's updates. It evaluates the rules in
//! device time per entity, keeps each alert's state, and hands every change to a writer task
//! that stores it, then announces it (hub, notifications) in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use tokio::sync::mpsc;
use urbanstream_schema::models::{AlertRow, AlertView};
use urbanstream_schema::store::{Store, ACTIVE_UNACK, CLEARED};
use urbanstream_schema::{AlertId, DeviceId, VehicleId};

use super::alert_rule::Rule;
use super::logic::{Evaluator, NewAlert, Sample, Transition};
use super::messages::{AlertAction, AlertChanged, AlertForgotten, ReplaceRules};
use crate::entity::{Accepted, EntityKey, EntityUpdate, Io, Observation};
use crate::geo::SharedFences;
use crate::metrics::{
    ACTOR_MAILBOX_FULL_TOTAL, ACTOR_RESTARTS_TOTAL, ALERTS_CLEARED_TOTAL, ALERTS_OPEN,
    ALERTS_RAISED_TOTAL, ALERTS_WRITE_FAILURES_TOTAL, RULES_RECORDS_EVALUATED_TOTAL,
};

#[derive(Debug, Clone)]
pub struct RuleEngineSettings {
    /// How often offline devices are looked for.
    pub tick: Duration,
    pub mailbox: usize,
    /// Alert changes waiting to be stored.
    pub write_queue: usize,
}

impl Default for RuleEngineSettings {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            mailbox: 65_536,
            write_queue: 65_536,
        }
    }
}

/// Where stored alert changes go: the hub, notification channels.
pub type AlertSinks = Arc<[Recipient<AlertChanged>]>;

struct Write {
    transition: Transition,
    key: EntityKey,
}

pub struct RuleEngineActor {
    settings: RuleEngineSettings,
    store: Store,
    fences: SharedFences,
    sinks: AlertSinks,
    rules: Arc<[Rule]>,
    groups: HashMap<i64, String>,
    eval: Evaluator,
    /// Every entity seen or known, by device id (alerts raised by the clock name it).
    keys: HashMap<DeviceId, EntityKey>,
    writer: Option<mpsc::Sender<Write>>,
    out: Vec<Transition>,
}

impl RuleEngineActor {
    pub fn new(
        settings: RuleEngineSettings,
        store: Store,
        fences: SharedFences,
        sinks: AlertSinks,
    ) -> Self {
        Self {
            settings,
            store,
            fences,
            sinks,
            rules: Arc::from(Vec::new()),
            groups: HashMap::new(),
            eval: Evaluator::default(),
            keys: HashMap::new(),
            writer: None,
            out: Vec::new(),
        }
    }

    /// Hands what the evaluator produced to the writer, in order.
    fn flush(&mut self, key: EntityKey) {
        if self.out.is_empty() {
            return;
        }
        for t in self.out.drain(..) {
            match &t {
                Transition::Raise(a) => {
                    metrics::counter!(ALERTS_RAISED_TOTAL, "kind" => a.kind, "severity" => a.severity.as_str())
                        .increment(1);
                }
                Transition::Clear { .. } => {
                    metrics::counter!(ALERTS_CLEARED_TOTAL, "by" => "condition").increment(1);
                }
                Transition::Repeat { .. } => {}
            }
            let Some(writer) = &self.writer else { continue };
            if writer.try_send(Write { transition: t, key }).is_err() {
                metrics::counter!(ALERTS_WRITE_FAILURES_TOTAL, "stage" => "queue").increment(1);
                tracing::error!(%key, "alert change dropped: the alert write queue is full");
            }
        }
        metrics::gauge!(ALERTS_OPEN).set(self.eval.open_count() as f64);
    }

    fn tick(&mut self) {
        let now = Utc::now().timestamp_millis();
        let mut raised = Vec::new();
        self.eval.tick(&self.rules, now, &mut raised);
        for t in raised {
            let Transition::Raise(a) = &t else { continue };
            let Some(key) = self.keys.get(&a.device_id).copied() else {
                continue;
            };
            self.out.push(t);
            self.flush(key);
        }
    }

    /// Open alerts and recent clears from the database, and the devices to watch.
    fn restore(&mut self, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let since = Utc::now().timestamp_millis() - 86_400_000;
        let load = async move {
            let open = store.open_alerts().await?;
            let cleared = store.recently_cleared(since).await?;
            let devices = store.devices().await?;
            let groups = store.vehicle_groups().await?;
            Ok::<_, urbanstream_schema::store::DbError>((open, cleared, devices, groups))
        };
        ctx.wait(load.into_actor(self).map(|loaded, act, _| match loaded {
            Ok((open, cleared, devices, groups)) => {
                let groups: HashMap<i64, String> = groups.into_iter().collect();
                for d in &devices {
                    // Each device with its own kind: a robot or a node is watched by its
                    // kind's rules, never by a tracker's.
                    let Some(key) = EntityKey::parse(&d.kind, &d.imei) else {
                        continue;
                    };
                    act.keys.insert(DeviceId(d.id), key);
                    let group = d.vehicle_id.and_then(|v| groups.get(&v).cloned());
                    act.eval.known(
                        DeviceId(d.id),
                        key.kind(),
                        (d.vehicle_id.map(VehicleId), group),
                        d.last_seen_ms,
                        Utc::now().timestamp_millis(),
                    );
                }
                for a in &cleared {
                    act.eval.restore(
                        a.rule_id,
                        DeviceId(a.device_id),
                        &a.subject,
                        None,
                        a.cleared_ms,
                    );
                }
                for a in &open {
                    act.eval.restore(
                        a.rule_id,
                        DeviceId(a.device_id),
                        &a.subject,
                        Some((AlertId(a.id.clone()), a.last_ms)),
                        None,
                    );
                }
                tracing::info!(
                    open = open.len(),
                    devices = devices.len(),
                    "rule engine state restored"
                );
                metrics::gauge!(ALERTS_OPEN).set(act.eval.open_count() as f64);
            }
            Err(e) => tracing::warn!("rule engine could not restore its state: {e}"),
        }));
    }
}

impl Actor for RuleEngineActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.settings.mailbox);
        let (tx, rx) = mpsc::channel(self.settings.write_queue);
        self.writer = Some(tx);
        actix::spawn(write_alerts(self.store.clone(), self.sinks.clone(), rx));
        self.restore(ctx);
        ctx.run_interval(self.settings.tick, |act, _| act.tick());
    }
}

impl Supervised for RuleEngineActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        metrics::counter!(ACTOR_RESTARTS_TOTAL, "actor" => "rule_engine").increment(1);
        tracing::warn!("rule engine restarting");
    }
}

impl Handler<EntityUpdate> for RuleEngineActor {
    type Result = ();

    fn handle(&mut self, msg: EntityUpdate, _ctx: &mut Self::Context) {
        self.keys.insert(msg.device_id, msg.key);
        let group = msg.vehicle_id.and_then(|v| self.groups.get(&v.0).cloned());
        let fences = self.fences.current();
        let mut late = Vec::new();
        let mut live = 0u64;
        for r in msg.readings.iter() {
            let s = sample(&msg, group.clone(), r);
            if r.late {
                late.push(s);
            } else {
                live += 1;
                self.eval.observe(&self.rules, &s, &mut self.out);
            }
        }
        if !late.is_empty() {
            self.eval
                .observe_late(&self.rules, &fences, &late, &mut self.out);
        }
        metrics::counter!(RULES_RECORDS_EVALUATED_TOTAL, "freshness" => "live").increment(live);
        metrics::counter!(RULES_RECORDS_EVALUATED_TOTAL, "freshness" => "late")
            .increment(late.len() as u64);
        if !msg.events.is_empty() {
            let s = Sample {
                kind: msg.key.kind(),
                device_id: msg.device_id,
                vehicle_id: msg.vehicle_id,
                group,
                ..Sample::default()
            };
            self.eval
                .observe_events(&self.rules, &s, &msg.events, &mut self.out);
        }
        self.flush(msg.key);
    }
}

impl Handler<ReplaceRules> for RuleEngineActor {
    type Result = ();

    fn handle(&mut self, msg: ReplaceRules, _ctx: &mut Self::Context) {
        tracing::info!(rules = msg.rules.len(), "alert rules loaded");
        self.rules = Arc::from(msg.rules);
        self.groups = msg.groups;
    }
}

impl Handler<AlertForgotten> for RuleEngineActor {
    type Result = ();

    fn handle(&mut self, msg: AlertForgotten, _ctx: &mut Self::Context) {
        self.eval.forget(&msg.id, msg.at_ms);
        metrics::counter!(ALERTS_CLEARED_TOTAL, "by" => "user").increment(1);
        metrics::gauge!(ALERTS_OPEN).set(self.eval.open_count() as f64);
    }
}

/// A reading's facts for the rules.
fn sample(msg: &EntityUpdate, group: Option<String>, r: &Accepted) -> Sample {
    let facts = &r.reading.facts;
    let mut health = None;
    let mut detections = Vec::new();
    let (mut battery_pct, mut temperature_c) = (None, None);
    for o in &r.reading.observations {
        match o {
            Observation::Heartbeat(h) => health = Some(h.clone()),
            Observation::Robot(report) => {
                battery_pct = Some(report.battery_pct);
                temperature_c = Some(report.temperature_c);
            }
            Observation::Detections { detections: d } => detections.extend(
                d.iter()
                    .map(|d| (d.object_type.clone(), d.location.clone())),
            ),
            _ => {}
        }
    }
    Sample {
        kind: msg.key.kind(),
        health,
        detections,
        battery_pct,
        temperature_c,
        device_id: msg.device_id,
        vehicle_id: msg.vehicle_id,
        group,
        at_ms: r.reading.at_ms,
        received_ms: r.received_at.timestamp_millis(),
        speed_kmh: r.reading.speed_kmh(),
        ignition: facts.bool(&Io::Ignition),
        position: r.reading.fix.and_then(|f| f.position()),
        fuel_pct: facts.f64(&Io::FuelLevelPct),
        dtc: facts
            .get(&Io::Dtc)
            .map(|v| v.as_codes().unwrap_or_default()),
        fence_limit: r.fence_limit,
        green_driving: facts
            .f64(&Io::GreenDrivingType)
            .and_then(|v| u8::try_from(v as i64).ok())
            .filter(|v| *v > 0),
    }
}

fn alert_row(a: NewAlert, now_ms: i64) -> AlertRow {
    AlertRow {
        id: a.id.0,
        rule_id: a.rule_id,
        kind: a.kind.to_owned(),
        severity: a.severity.as_str().to_owned(),
        status: if a.cleared_ms.is_some() {
            CLEARED
        } else {
            ACTIVE_UNACK
        }
        .to_owned(),
        device_id: a.device_id.0,
        vehicle_id: a.vehicle_id.map(|v| v.0),
        subject: a.subject,
        message: a.message,
        details: a.details.to_string(),
        late: a.late,
        occurrences: a.occurrences,
        raised_ms: a.raised_ms,
        last_ms: a.last_ms,
        acknowledged_ms: None,
        acknowledged_by: None,
        cleared_ms: a.cleared_ms,
        cleared_by: None,
        created_ms: now_ms,
    }
}

/// Stores alert changes one by one, in the order the engine made them, retrying a failing
/// database; each stored change is then announced.
async fn write_alerts(store: Store, sinks: AlertSinks, mut rx: mpsc::Receiver<Write>) {
    while let Some(w) = rx.recv().await {
        let now = Utc::now().timestamp_millis();
        let mut delay = Duration::from_millis(100);
        let mut attempt = 0;
        let stored = loop {
            attempt += 1;
            let result = match &w.transition {
                Transition::Raise(a) => {
                    let row = alert_row(a.clone(), now);
                    let action = if row.late {
                        AlertAction::Cleared
                    } else {
                        AlertAction::Raised
                    };
                    store
                        .insert_alert(row.clone())
                        .await
                        .map(|()| Some((action, row)))
                }
                Transition::Repeat { id, at_ms, details } => store
                    .repeat_alert(id.as_str(), *at_ms, &details.to_string())
                    .await
                    .map(|r| r.map(|r| (AlertAction::Updated, r))),
                Transition::Clear { id, at_ms } => store
                    .clear_alert(id.as_str(), *at_ms, None)
                    .await
                    .map(|r| r.map(|r| (AlertAction::Cleared, r))),
            };
            match result {
                Ok(done) => break done,
                Err(e) if attempt < 6 => {
                    tracing::warn!(
                        "alert change not stored (attempt {attempt}): {e}; retrying in {delay:?}"
                    );
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    metrics::counter!(ALERTS_WRITE_FAILURES_TOTAL, "stage" => "store").increment(1);
                    tracing::error!("alert change lost after {attempt} attempts: {e}");
                    break None;
                }
            }
        };
        let Some((action, row)) = stored else {
            continue;
        };
        let changed = AlertChanged {
            action,
            key: w.key,
            alert: Arc::new(AlertView::from(row)),
        };
        for s in sinks.iter() {
            if s.try_send(changed.clone()).is_err() {
                metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "alert_sink").increment(1);
            }
        }
    }
}
