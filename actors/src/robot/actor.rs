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
use crate::metrics::{ACTOR_RESTARTS_TOTAL, ROBOT_EVENTS_STORE_RETRIES_TOTAL, ROBOT_EVENTS_TOTAL};

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
    /// First and longest wait between writes of events the database did not take.
    pub retry: (Duration, Duration),
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
    type Result = ResponseFuture<Result<IngestOutcome, EntityError>>;

    /// Answered once the rows are committed, like every kind's readings. Telemetry alone
    /// that the database does not take is answered with the error (the next poll follows);
    /// events and safety events are kept and written again until stored: back-pressure on
    /// the robot's forwarder, never loss.
    fn handle(&mut self, mut msg: IngestReadings, _ctx: &mut Self::Context) -> Self::Result {
        let tuning = *self.settings.tuning.borrow();
        self.logic.stale_after = tuning.stale_after.max(1);
        self.logic.offline_after = tuning.offline_after.max(1);
        let mut batch = Batch {
            quarantine: msg.take_quarantined(&EntityKey::Robot(self.robot)),
            ..Batch::default()
        };
        let quarantined = batch.quarantine.len() as u32;
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
        self.emit(out, events, state);
        let keep = !batch.events.is_empty() || !batch.safety_events.is_empty();
        let (persist, robot) = (self.settings.persist.clone(), self.robot);
        let retry = self.settings.retry;
        Box::pin(async move {
            if !batch.is_empty() {
                store(persist, batch, robot, keep, retry).await?;
            }
            Ok(IngestOutcome {
                accepted,
                late: 0,
                quarantined,
            })
        })
    }
}

/// Writes a robot's rows, waiting for room in the batcher's mailbox. With `keep` (events,
/// safety events) a failed write is tried again until it is stored; without, the error is
/// the answer.
async fn store(
    persist: Recipient<Persist>,
    batch: Batch,
    robot: RobotId,
    keep: bool,
    (first, longest): (Duration, Duration),
) -> Result<(), EntityError> {
    let mut wait = first;
    loop {
        let error = match persist.send(Persist(batch.clone())).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => EntityError::Storage(e),
            Err(_mailbox) => EntityError::Unavailable,
        };
        if !keep {
            return Err(error);
        }
        metrics::counter!(ROBOT_EVENTS_STORE_RETRIES_TOTAL).increment(1);
        tracing::warn!(%robot, "robot events not stored ({error}); retrying in {wait:?}");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(longest);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::SnapshotSlot;
    use crate::errors::StorageError;

    /// A batcher that refuses the first `refuse` writes, then takes them.
    struct Flaky {
        refuse: usize,
        tried: usize,
        stored: Vec<Batch>,
    }

    impl Actor for Flaky {
        type Context = Context<Self>;
    }

    impl Handler<Persist> for Flaky {
        type Result = Result<(), StorageError>;

        fn handle(&mut self, Persist(batch): Persist, _ctx: &mut Self::Context) -> Self::Result {
            self.tried += 1;
            if self.refuse > 0 {
                self.refuse -= 1;
                return Err(StorageError::Overloaded);
            }
            self.stored.push(batch);
            Ok(())
        }
    }

    #[derive(Message)]
    #[rtype(result = "(usize, Vec<Batch>)")]
    struct Seen;

    impl Handler<Seen> for Flaky {
        type Result = MessageResult<Seen>;

        fn handle(&mut self, _msg: Seen, _ctx: &mut Self::Context) -> Self::Result {
            MessageResult((self.tried, std::mem::take(&mut self.stored)))
        }
    }

    fn reading(report: RobotReport) -> IngestReadings {
        let now = Utc::now();
        IngestReadings::new(
            vec![crate::entity::Reading {
                at_ms: now.timestamp_millis(),
                fix: None,
                facts: Default::default(),
                raw: String::new(),
                sequence: None,
                observations: vec![Observation::Robot(Box::new(report))],
            }],
            now,
        )
    }

    fn robot(id: i64, persist: &Addr<Flaky>) -> Addr<RobotActor> {
        let (_, tuning) = tokio::sync::watch::channel(RobotTuning {
            telemetry_every: Duration::from_secs(1),
            stale_after: 3,
            offline_after: 3,
        });
        RobotActor::new(
            RobotId(id),
            DeviceId(id),
            RobotSettings {
                mailbox: 16,
                downstream: Arc::from(Vec::new()),
                persist: persist.clone().recipient(),
                tuning,
                retry: (Duration::from_millis(1), Duration::from_millis(5)),
            },
            Arc::new(SnapshotSlot::default()),
        )
        .start()
    }

    fn flaky(refuse: usize) -> Addr<Flaky> {
        Flaky {
            refuse,
            tried: 0,
            stored: Vec::new(),
        }
        .start()
    }

    #[actix_rt::test]
    async fn readings_are_answered_after_the_commit() {
        let db = flaky(0);
        let r = robot(1, &db);
        let idle = super::super::logic::tests::idle;
        let answer = r.send(reading(idle(1))).await.unwrap().unwrap();
        assert_eq!(answer.accepted, 1);
        let (tried, stored) = db.send(Seen).await.unwrap();
        assert_eq!(tried, 1);
        assert!(!stored.is_empty(), "answered once its rows were stored");
    }

    #[actix_rt::test]
    async fn a_safety_event_is_written_again_until_stored_never_dropped() {
        // The database refuses many more writes than any fixed number of tries.
        let refusals = 20;
        let db = flaky(refusals);
        let r = robot(2, &db);
        let mut pressed = super::super::logic::tests::idle(2);
        pressed.estop_pressed = true;
        let answer = r.send(reading(pressed)).await.unwrap();
        assert!(answer.is_ok(), "{answer:?}");
        let (tried, stored) = db.send(Seen).await.unwrap();
        assert_eq!(tried, refusals + 1, "written again until stored");
        assert!(
            stored.iter().any(|b| !b.safety_events.is_empty()),
            "the safety event is stored, then answered: {stored:?}"
        );
    }
}
