use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use urbanstream_schema::models::{NewSafetyEvent, RobotTelemetryRow};
use urbanstream_schema::store::Batch;
use urbanstream_schema::{DeviceId, RobotId};

use super::logic::{RobotLogic, Seen};
use crate::db_batcher::Persist;
use crate::entity::{
    Accepted, Control, EntityError, EntityEvent, EntityKey, EntityUpdate, IngestOutcome,
    IngestReadings, Observation, RobotReport,
};
use crate::metrics::{ACTOR_MAILBOX_FULL_TOTAL, ACTOR_RESTARTS_TOTAL, ROBOT_EVENTS_TOTAL};

/// What every robot actor shares.
#[derive(Clone)]
pub struct RobotSettings {
    pub mailbox: usize,
    /// Where state changes and events go next (hub, rules, Redis).
    pub downstream: Arc<[Recipient<EntityUpdate>]>,
    /// The database batcher.
    pub persist: Recipient<Persist>,
    /// What may change at run time (`PATCH /api/v1/config`): read at every reading.
    pub tuning: tokio::sync::watch::Receiver<RobotTuning>,
}

/// A robot's thresholds that may change while it runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobotTuning {
    /// At most one telemetry row per robot this often (and one on every state change).
    pub telemetry_every: Duration,
    /// Polls with a frozen control cycle counter before the robot is stale.
    pub stale_after: u32,
    /// Failed polls in a row before the robot is disconnected.
    pub offline_after: u32,
}

/// One per robot.
pub struct RobotActor {
    robot: RobotId,
    device_id: DeviceId,
    settings: RobotSettings,
    logic: RobotLogic,
    last_row: Option<Instant>,
    slot: Arc<crate::entity::SnapshotSlot>,
}

impl RobotActor {
    pub fn new(
        robot: RobotId,
        device_id: DeviceId,
        settings: RobotSettings,
        slot: Arc<crate::entity::SnapshotSlot>,
    ) -> Self {
        let t = *settings.tuning.borrow();
        let logic = RobotLogic::new(robot, t.stale_after, t.offline_after);
        Self {
            robot,
            device_id,
            settings,
            logic,
            last_row: None,
            slot,
        }
    }

    /// Publishes the snapshot for readers and returns it as JSON, for subscribers.
    fn publish(&self) -> bytes::Bytes {
        self.slot.publish(self.logic.snapshot.clone());
        serde_json::to_vec(&self.logic.snapshot)
            .unwrap_or_default()
            .into()
    }

    fn telemetry_row(&self, r: &RobotReport, at: DateTime<Utc>) -> RobotTelemetryRow {
        RobotTelemetryRow {
            robot_id: self.robot.0,
            time_ms: at.timestamp_millis(),
            state: self.logic.snapshot.state.as_str().to_owned(),
            status_bits: i32::from(r.status_bits),
            position_mm: i64::from(r.position_mm),
            speed_mm_s: i32::from(r.speed_mm_s),
            hoist_mm: i32::from(r.hoist_mm),
            battery_pct: r.battery_pct,
            temperature_c: r.temperature_c,
            station: i32::from(r.station),
            target_station: i32::from(r.target_station),
            fault_code: i32::from(r.fault_code),
            load_kg: r.load_kg,
        }
    }

    fn apply(&self, seen: &Seen, at: DateTime<Utc>, batch: &mut Batch) -> Option<bytes::Bytes> {
        for e in &seen.events {
            metrics::counter!(ROBOT_EVENTS_TOTAL, "kind" => e.kind()).increment(1);
            if let EntityEvent::Safety {
                condition,
                active,
                detail,
                ..
            } = e
            {
                if *active {
                    tracing::warn!(robot = %self.robot, condition = condition.as_str(), "robot safety condition");
                }
                batch.safety_events.push(NewSafetyEvent {
                    robot_id: self.robot.0,
                    time_ms: at.timestamp_millis(),
                    kind: condition.as_str().to_owned(),
                    active: *active,
                    severity: condition.severity().to_owned(),
                    detail: detail.clone(),
                });
            }
            batch.events.push(e.row(self.device_id));
        }
        seen.changed.then(|| self.publish())
    }

    fn emit(&self, readings: Vec<Accepted>, events: Vec<EntityEvent>, state: Option<bytes::Bytes>) {
        if self.settings.downstream.is_empty()
            || (readings.is_empty() && events.is_empty() && state.is_none())
        {
            return;
        }
        EntityUpdate {
            key: EntityKey::Robot(self.robot),
            device_id: self.device_id,
            vehicle_id: None,
            readings: Arc::from(readings),
            events: Arc::from(events),
            state,
        }
        .fan_out(&self.settings.downstream, "robot_downstream");
    }
}

impl Actor for RobotActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.settings.mailbox);
        self.publish();
    }
}

impl Supervised for RobotActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        metrics::counter!(ACTOR_RESTARTS_TOTAL, "actor" => "robot").increment(1);
        tracing::warn!(robot = %self.robot, "robot actor restarting");
    }
}

impl Handler<IngestReadings> for RobotActor {
    type Result = Result<IngestOutcome, EntityError>;

    fn handle(&mut self, msg: IngestReadings, ctx: &mut Self::Context) -> Self::Result {
        let tuning = *self.settings.tuning.borrow();
        self.logic.stale_after = tuning.stale_after.max(1);
        self.logic.offline_after = tuning.offline_after.max(1);
        let mut batch = Batch::default();
        let mut events = Vec::new();
        let mut state = None;
        let accepted = msg.readings.len() as u32;
        let mut out = Vec::new();
        for reading in msg.readings {
            let at = reading.at();
            for o in &reading.observations {
                let seen = match o {
                    Observation::Robot(r) => {
                        let before = self.logic.snapshot.state;
                        let seen = self.logic.report(r, at);
                        let due = self
                            .last_row
                            .is_none_or(|t| t.elapsed() >= tuning.telemetry_every);
                        if due || before != self.logic.snapshot.state {
                            batch.robot_telemetry.push(self.telemetry_row(r, at));
                            self.last_row = Some(Instant::now());
                        }
                        seen
                    }
                    Observation::Unreachable { reason } => self.logic.unreachable(reason, at),
                    _ => continue,
                };
                if let Some(json) = self.apply(&seen, at, &mut batch) {
                    state = Some(json);
                }
                events.extend(seen.events);
            }
            if state.is_some() {
                out.push(Accepted {
                    reading,
                    late: false,
                    received_at: msg.received_at,
                    fence_limit: None,
                });
            }
        }
        if batch.events.is_empty() {
            // Telemetry alone: a sample dropped under overload is counted, the next follows.
            if !batch.is_empty() && self.settings.persist.try_send(Persist(batch)).is_err() {
                metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "robot_rows").increment(1);
            }
        } else {
            // Events and safety events are kept: wait for room in the batcher's mailbox (the
            // actor goes on meanwhile), and retry a failed write.
            ctx.spawn(
                store_events(self.settings.persist.clone(), batch, self.robot).into_actor(self),
            );
        }
        self.emit(out, events, state);
        Ok(IngestOutcome {
            accepted,
            late: 0,
            quarantined: 0,
        })
    }
}

async fn store_events(persist: Recipient<Persist>, batch: Batch, robot: RobotId) {
    let mut wait = Duration::from_millis(100);
    for _ in 0..8 {
        match persist.send(Persist(batch.clone())).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => {
                tracing::warn!(%robot, "robot events not stored ({e}); retrying in {wait:?}")
            }
            Err(e) => tracing::warn!(%robot, "robot events not stored ({e}); retrying in {wait:?}"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
    tracing::error!(%robot, "robot events dropped after retries");
    metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "robot_events").increment(1);
}

impl Handler<Control> for RobotActor {
    type Result = Option<Duration>;

    fn handle(&mut self, msg: Control, ctx: &mut Self::Context) -> Self::Result {
        match msg {
            Control::SetVehicle(_) => None,
            // A robot stays while it is configured: its bus polls it whether or not it answers.
            Control::IdleFor => None,
            Control::Retire => {
                ctx.stop();
                None
            }
        }
    }
}
