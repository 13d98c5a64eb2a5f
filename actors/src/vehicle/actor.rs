use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use urbanstream_schema::store::Batch;
use urbanstream_schema::{DeviceId, Imei, RouteId, StopId, VehicleId};

use super::logic::{apply_live, order_readings, to_can_row, to_row, LiveState};
use super::messages::VehicleSnapshot;
use super::motion::{MotionSettings, MotionTracker, Observation};
use super::rows::add_events;
use crate::db_batcher::Persist;
use crate::entity::{
    Accepted, Control, EntityError, EntityEvent, EntityKey, EntityUpdate, IngestOutcome,
    IngestReadings, Io, Motion, SnapshotSlot,
};
use crate::geo::{FenceTracker, SharedFences};
use crate::metrics::{
    ACTOR_MAILBOX_FULL_TOTAL, ACTOR_RESTARTS_TOTAL, VEHICLE_EVENTS_TOTAL,
    VEHICLE_RECORDS_LATE_TOTAL,
};
use crate::transit::{RouteEvent, RouteTracker, SharedRoutes};

/// What every tracker actor shares.
#[derive(Clone)]
pub struct TrackerSettings {
    pub mailbox: usize,
    /// Where accepted readings and events go next (hub, rules).
    pub downstream: Arc<[Recipient<EntityUpdate>]>,
    /// The database batcher: a frame is acknowledged once its rows are committed.
    pub persist: Recipient<Persist>,
    /// No data for this long: the vehicle goes offline.
    pub offline_after: Duration,
    pub motion: MotionSettings,
    /// The geofences every vehicle is checked against.
    pub fences: SharedFences,
    /// Routes, stops and which vehicle runs which.
    pub routes: SharedRoutes,
}

/// One per tracker: the owner of the live state of the tracker and of the vehicle it rides
/// in. The tracker, not the vehicle, is the unit: its stream is what is ordered in device
/// time and acknowledged, and history is stored by device; the vehicle it rides in is a
/// field that the registry changes when it is moved to another vehicle.
pub struct TrackerActor {
    imei: Imei,
    device_id: DeviceId,
    vehicle_id: Option<VehicleId>,
    /// The IO profile its readings were named with (shown in its snapshot).
    profile: Arc<str>,
    settings: TrackerSettings,
    latest_ms: Option<i64>,
    /// Shared with the published snapshot: one copy while nothing changes.
    live: Option<Arc<LiveState>>,
    motion: MotionTracker,
    last_received: Option<(Instant, chrono::DateTime<Utc>)>,
    records_total: u64,
    late_total: u64,
    /// Where the latest snapshot is published for readers that need no actor round trip.
    slot: Arc<SnapshotSlot>,
    /// Which geofences the vehicle is in.
    fences: FenceTracker,
    /// Where the vehicle is on its route.
    route: RouteTracker,
}

impl TrackerActor {
    pub fn new(
        imei: Imei,
        device_id: DeviceId,
        vehicle_id: Option<VehicleId>,
        profile: Arc<str>,
        settings: TrackerSettings,
        slot: Arc<SnapshotSlot>,
    ) -> Self {
        Self {
            imei,
            device_id,
            vehicle_id,
            profile,
            settings,
            latest_ms: None,
            live: None,
            motion: MotionTracker::default(),
            last_received: None,
            records_total: 0,
            late_total: 0,
            slot,
            fences: FenceTracker::default(),
            route: RouteTracker::default(),
        }
    }

    fn snapshot(&self) -> VehicleSnapshot {
        VehicleSnapshot {
            imei: self.imei,
            profile: self.profile.to_string(),
            motion: self.motion.motion,
            live: self.live.clone(),
            records_total: self.records_total,
            late_total: self.late_total,
            route: self.route.progress(),
        }
    }

    fn publish(&self) {
        self.slot.publish(self.snapshot());
    }

    /// Live pushes: the hot path never waits on the database.
    fn emit(&self, readings: Vec<Accepted>, events: Vec<EntityEvent>) {
        for e in &events {
            metrics::counter!(VEHICLE_EVENTS_TOTAL, "kind" => e.kind()).increment(1);
        }
        if self.settings.downstream.is_empty() || (readings.is_empty() && events.is_empty()) {
            return;
        }
        EntityUpdate {
            state: None,
            key: EntityKey::Tracker(self.imei),
            device_id: self.device_id,
            vehicle_id: self.vehicle_id,
            readings: Arc::from(readings),
            events: Arc::from(events),
        }
        .fan_out(&self.settings.downstream, "vehicle_downstream");
    }

    fn check_offline(&mut self) {
        let Some((instant, at)) = self.last_received else {
            return;
        };
        if instant.elapsed() < self.settings.offline_after {
            return;
        }
        let events = self.motion.silence(Utc::now(), at);
        if events.is_empty() {
            return;
        }
        tracing::info!(imei = %self.imei, "vehicle offline: no data for {:?}", self.settings.offline_after);
        if let Some(live) = &mut self.live {
            Arc::make_mut(live).motion = self.motion.motion;
        }
        self.publish();
        let mut batch = Batch::default();
        add_events(&mut batch, self.device_id, self.vehicle_id, &events);
        if self.settings.persist.try_send(Persist(batch)).is_err() {
            metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "vehicle_events").increment(1);
        }
        self.emit(Vec::new(), events);
    }
}

impl Actor for TrackerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.settings.mailbox);
        // Readers see a running tracker at once, before its first reading.
        self.publish();
        let every = (self.settings.offline_after / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(30));
        ctx.run_interval(every, |act, _| act.check_offline());
    }
}

impl Supervised for TrackerActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        // Live state is kept in the actor value across restarts.
        metrics::counter!(ACTOR_RESTARTS_TOTAL, "actor" => "tracker").increment(1);
        tracing::warn!(imei = %self.imei, "tracker actor restarting");
    }
}

impl Handler<IngestReadings> for TrackerActor {
    type Result = ResponseFuture<Result<IngestOutcome, EntityError>>;

    fn handle(&mut self, mut msg: IngestReadings, _ctx: &mut Self::Context) -> Self::Result {
        let accepted = msg.readings.len() as u32;
        self.last_received = Some((Instant::now(), msg.received_at));
        let quarantine = msg.take_quarantined(&EntityKey::Tracker(self.imei));
        let quarantined = quarantine.len() as u32;
        let (ordered, latest) = order_readings(self.latest_ms, msg.readings);
        self.latest_ms = latest;
        let mut late = 0u32;
        let mut out = Vec::with_capacity(ordered.len());
        let mut batch = Batch {
            telemetry: Vec::with_capacity(ordered.len()),
            quarantine,
            ..Batch::default()
        };
        let mut events = Vec::new();
        let fences = self.settings.fences.current();
        let route = self
            .settings
            .routes
            .current()
            .route_of(self.vehicle_id.map(|v| v.0));
        for o in ordered {
            let reading = o.reading;
            let mut fence_limit = None;
            let distance = if o.late {
                late += 1;
                0.0
            } else {
                // The snapshot holds the old state: it is copied once here, not again
                // when the new one is published.
                let mut state = self
                    .live
                    .take()
                    .map(|l| Arc::try_unwrap(l).unwrap_or_else(|shared| (*shared).clone()));
                let distance = apply_live(&mut state, &reading, msg.received_at);
                self.live = state.map(Arc::new);
                let position = reading.fix.and_then(|f| f.position());
                events.extend(self.motion.observe(
                    Observation {
                        at: reading.at(),
                        speed_kmh: reading.speed_kmh(),
                        ignition: reading.facts.bool(&Io::Ignition),
                        position,
                        distance_m: distance,
                        fuel_used_l: reading.facts.f64(&Io::FuelConsumedL),
                    },
                    &self.settings.motion,
                ));
                // Geofences see live fixes only, in device time: late readings raise nothing.
                if let Some((lat, lon)) = position {
                    if !fences.is_empty() {
                        let seen = self.fences.observe(&fences, reading.at_ms, lat, lon);
                        events.extend(seen.into_iter().map(EntityEvent::from));
                    }
                }
                fence_limit = self.fences.speed_limit(&fences);
                if let Some((lat, lon)) = position {
                    if route.is_some() || self.route.progress().is_some() {
                        let seen = self
                            .route
                            .observe(route.as_deref(), reading.at_ms, lat, lon);
                        events.extend(seen.into_iter().map(route_event));
                    }
                }
                distance
            };
            batch.can.extend(to_can_row(self.device_id, &reading));
            batch.telemetry.push(to_row(
                self.device_id,
                &reading,
                o.late,
                distance,
                msg.received_at,
            ));
            out.push(Accepted {
                reading,
                late: o.late,
                received_at: msg.received_at,
                fence_limit,
            });
        }
        if let Some(live) = &mut self.live {
            let live = Arc::make_mut(live);
            live.motion = self.motion.motion;
            live.engine_hours_h = self.motion.engine_seconds / 3600.0;
        }
        self.records_total += u64::from(accepted);
        if late > 0 {
            self.late_total += u64::from(late);
            metrics::counter!(VEHICLE_RECORDS_LATE_TOTAL).increment(u64::from(late));
            tracing::debug!(imei = %self.imei, late, "late records stored, live state kept");
        }
        add_events(&mut batch, self.device_id, self.vehicle_id, &events);
        self.publish();
        self.emit(out, events);
        let persist = self.settings.persist.send(Persist(batch));
        let imei = self.imei;
        Box::pin(async move {
            match persist.await {
                Ok(Ok(())) => Ok(IngestOutcome {
                    accepted,
                    late,
                    quarantined,
                }),
                Ok(Err(e)) => {
                    tracing::warn!(%imei, "records not stored: {e}");
                    Err(EntityError::Storage(e))
                }
                Err(_mailbox) => Err(EntityError::Unavailable),
            }
        })
    }
}

impl Handler<Control> for TrackerActor {
    type Result = Option<Duration>;

    fn handle(&mut self, msg: Control, ctx: &mut Self::Context) -> Self::Result {
        match msg {
            Control::SetVehicle(vehicle) => {
                self.vehicle_id = vehicle;
                None
            }
            Control::IdleFor => {
                if self.motion.motion != Motion::Offline {
                    return None;
                }
                Some(
                    self.last_received
                        .map_or(Duration::MAX, |(at, _)| at.elapsed()),
                )
            }
            Control::Retire => {
                ctx.stop();
                None
            }
        }
    }
}

/// A route event as the vehicle reports it.
fn route_event(e: RouteEvent) -> EntityEvent {
    let time = |ms: i64| chrono::DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    match e {
        RouteEvent::Arrived {
            route,
            stop,
            seq,
            at_ms,
        } => EntityEvent::StopArrived {
            at: time(at_ms),
            route: RouteId(route),
            stop: StopId(stop),
            seq,
        },
        RouteEvent::Departed {
            route,
            stop,
            seq,
            arrived_ms,
            at_ms,
        } => EntityEvent::StopDeparted {
            at: time(at_ms),
            route: RouteId(route),
            stop: StopId(stop),
            seq,
            arrived_ms,
            dwell_s: (at_ms - arrived_ms) as f64 / 1000.0,
        },
    }
}
