//! `RuleEngineActor`: one mailbox for every vehicle's accepted frames. It evaluates the rules
//! in device time per device, keeps each alert's state, and hands every change to a writer
//! task that stores it, then announces it (hub, notifications) in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use tokio::sync::mpsc;
use urbanstream_schema::models::{AlertRow, AlertView};
use urbanstream_schema::store::{Store, ACTIVE_UNACK, CLEARED};
use urbanstream_schema::Imei;

use super::alert_rule::Rule;
use super::geofence::SharedFences;
use super::logic::{Evaluator, FenceChange, NewAlert, Sample, Transition};
use super::messages::{AlertAction, AlertChanged, AlertForgotten, ReplaceRules};
use crate::metrics::{
    ACTOR_MAILBOX_FULL_TOTAL, ACTOR_RESTARTS_TOTAL, ALERTS_CLEARED_TOTAL, ALERTS_OPEN,
    ALERTS_RAISED_TOTAL, ALERTS_WRITE_FAILURES_TOTAL, RULES_RECORDS_EVALUATED_TOTAL,
};
use crate::teltonika::io_profile::NamedValue;
use crate::vehicle::logic::named_value;
use crate::vehicle::{TelemetryAccepted, TelemetryRecord, VehicleEvent};

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
    imei: Imei,
}

pub struct RuleEngineActor {
    settings: RuleEngineSettings,
    store: Store,
    fences: SharedFences,
    sinks: AlertSinks,
    rules: Arc<[Rule]>,
    groups: HashMap<i64, String>,
    eval: Evaluator,
    imeis: HashMap<i64, Imei>,
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
            imeis: HashMap::new(),
            writer: None,
            out: Vec::new(),
        }
    }

    /// Hands what the evaluator produced to the writer, in order.
    fn flush(&mut self, imei: Imei) {
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
            if writer
                .try_send(Write {
                    transition: t,
                    imei,
                })
                .is_err()
            {
                metrics::counter!(ALERTS_WRITE_FAILURES_TOTAL, "stage" => "queue").increment(1);
                tracing::error!(%imei, "alert change dropped: the alert write queue is full");
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
            let Some(imei) = self.imeis.get(&a.device_id).copied() else {
                continue;
            };
            self.out.push(t);
            self.flush(imei);
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
                    if let Ok(imei) = d.imei.parse::<Imei>() {
                        act.imeis.insert(d.id, imei);
                    }
                    let group = d.vehicle_id.and_then(|v| groups.get(&v).cloned());
                    act.eval.known(d.id, d.vehicle_id, group, d.last_seen_ms);
                }
                for a in &cleared {
                    act.eval
                        .restore(a.rule_id, a.device_id, &a.subject, None, a.cleared_ms);
                }
                for a in &open {
                    act.eval.restore(
                        a.rule_id,
                        a.device_id,
                        &a.subject,
                        Some((a.id.clone(), a.last_ms)),
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

impl Handler<TelemetryAccepted> for RuleEngineActor {
    type Result = ();

    fn handle(&mut self, msg: TelemetryAccepted, _ctx: &mut Self::Context) {
        self.imeis.insert(msg.device_id, msg.imei);
        let group = msg.vehicle_id.and_then(|v| self.groups.get(&v).cloned());
        let fences = self.fences.current();
        let mut late = Vec::new();
        let mut live = 0u64;
        for r in msg.records.iter() {
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
        let changes: Vec<FenceChange> = msg.events.iter().filter_map(fence_change).collect();
        if !changes.is_empty() {
            let s = Sample {
                device_id: msg.device_id,
                vehicle_id: msg.vehicle_id,
                group,
                ..Sample::default()
            };
            self.eval
                .observe_fences(&self.rules, &s, &changes, &mut self.out);
        }
        self.flush(msg.imei);
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

/// A record's facts for the rules, by the profile's canonical names.
fn sample(msg: &TelemetryAccepted, group: Option<String>, r: &TelemetryRecord) -> Sample {
    let g = &r.record.gps;
    let value = |k: &str| named_value(&r.named, k);
    Sample {
        device_id: msg.device_id,
        vehicle_id: msg.vehicle_id,
        group,
        at_ms: i64::try_from(r.record.timestamp_ms).unwrap_or(i64::MAX),
        received_ms: r.received_at.timestamp_millis(),
        speed_kmh: f64::from(g.speed),
        ignition: value("ignition").and_then(NamedValue::as_bool),
        position: g.valid().then(|| (g.latitude_deg(), g.longitude_deg())),
        fuel_pct: value("fuel_level_pct").and_then(NamedValue::as_f64),
        dtc: value("dtc").map(|v| match v {
            NamedValue::Codes(c) => c.clone(),
            NamedValue::Text(t) => t
                .split([',', ' '])
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }),
        fence_limit: r.fence_limit,
        green_driving: value("green_driving_type")
            .and_then(NamedValue::as_f64)
            .and_then(|v| u8::try_from(v as i64).ok())
            .filter(|v| *v > 0),
    }
}

fn fence_change(e: &VehicleEvent) -> Option<FenceChange> {
    Some(match e {
        VehicleEvent::GeofenceEntered { at, fence, name } => FenceChange::Entered {
            fence: *fence,
            name: name.clone(),
            at_ms: at.timestamp_millis(),
        },
        VehicleEvent::GeofenceExited {
            at, fence, name, ..
        } => FenceChange::Exited {
            fence: *fence,
            name: name.clone(),
            at_ms: at.timestamp_millis(),
        },
        VehicleEvent::GeofenceCrossed { at, fence, name } => FenceChange::Crossed {
            fence: *fence,
            name: name.clone(),
            at_ms: at.timestamp_millis(),
        },
        _ => return None,
    })
}

fn alert_row(a: NewAlert, now_ms: i64) -> AlertRow {
    AlertRow {
        id: a.id,
        rule_id: a.rule_id,
        kind: a.kind.to_owned(),
        severity: a.severity.as_str().to_owned(),
        status: if a.cleared_ms.is_some() {
            CLEARED
        } else {
            ACTIVE_UNACK
        }
        .to_owned(),
        device_id: a.device_id,
        vehicle_id: a.vehicle_id,
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
                    .repeat_alert(id, *at_ms, &details.to_string())
                    .await
                    .map(|r| r.map(|r| (AlertAction::Updated, r))),
                Transition::Clear { id, at_ms } => store
                    .clear_alert(id, *at_ms, None)
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
            imei: w.imei,
            alert: Arc::new(AlertView::from(row)),
        };
        for s in sinks.iter() {
            if s.try_send(changed.clone()).is_err() {
                metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "alert_sink").increment(1);
            }
        }
    }
}
