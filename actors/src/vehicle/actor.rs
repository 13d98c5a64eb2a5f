use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use urbanstream_schema::models::NewEvent;
use urbanstream_schema::Imei;

use super::logic::{apply_live, order_records, to_can_row, to_row, LiveState};
use super::messages::{
    GetSnapshot, IngestOutcome, IngestRecords, SetVehicle, TelemetryAccepted, TelemetryRecord,
    VehicleError, VehicleSnapshot,
};
use super::motion::{MotionSettings, MotionTracker, Observation, VehicleEvent};
use crate::db_batcher::PersistTelemetry;
use crate::metrics::{
    ACTOR_MAILBOX_FULL_TOTAL, ACTOR_RESTARTS_TOTAL, VEHICLE_EVENTS_TOTAL,
    VEHICLE_RECORDS_LATE_TOTAL,
};
use crate::rules::{FenceEvent, FenceTracker, SharedFences};
use crate::teltonika::io_profile::IoProfile;

/// What every vehicle actor shares.
#[derive(Clone)]
pub struct VehicleSettings {
    pub mailbox: usize,
    /// Where accepted telemetry and events go next (hub, rules).
    pub downstream: Arc<[Recipient<TelemetryAccepted>]>,
    /// The database batcher: a frame is acknowledged once its rows are committed.
    pub persist: Recipient<PersistTelemetry>,
    /// No data for this long: the vehicle goes offline.
    pub offline_after: Duration,
    pub motion: MotionSettings,
    /// The geofences every vehicle is checked against.
    pub fences: SharedFences,
    /// Routes, stops and which vehicle runs which.
    pub routes: crate::transit::SharedRoutes,
}

/// One per tracked vehicle: the owner of its live state.
pub struct VehicleActor {
    imei: Imei,
    device_id: i64,
    vehicle_id: Option<i64>,
    profile: Arc<IoProfile>,
    settings: VehicleSettings,
    latest_ts: Option<u64>,
    live: Option<LiveState>,
    motion: MotionTracker,
    last_received: Option<(Instant, chrono::DateTime<Utc>)>,
    records_total: u64,
    late_total: u64,
    /// Where the latest snapshot is published for readers that need no actor round trip.
    slot: Arc<SnapshotSlot>,
    /// Which geofences the vehicle is in.
    fences: FenceTracker,
    /// Where the vehicle is on its route.
    route: crate::transit::RouteTracker,
}

/// The latest snapshot of one vehicle, published by its actor after every change; readers
/// (REST) take it without a message. Its JSON is rendered once per snapshot, on first read.
#[derive(Default)]
pub struct SnapshotSlot(std::sync::RwLock<Option<Arc<Published>>>);

pub struct Published {
    pub snapshot: VehicleSnapshot,
    json: std::sync::OnceLock<bytes::Bytes>,
}

impl Published {
    pub fn json(&self) -> bytes::Bytes {
        self.json
            .get_or_init(|| {
                serde_json::to_vec(&self.snapshot)
                    .unwrap_or_default()
                    .into()
            })
            .clone()
    }
}

impl SnapshotSlot {
    pub fn latest(&self) -> Option<Arc<Published>> {
        self.0.read().ok()?.clone()
    }

    fn publish(&self, snapshot: VehicleSnapshot) {
        let p = Arc::new(Published {
            snapshot,
            json: std::sync::OnceLock::new(),
        });
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(p);
        }
    }
}

impl VehicleActor {
    pub fn new(
        imei: Imei,
        device_id: i64,
        vehicle_id: Option<i64>,
        profile: Arc<IoProfile>,
        settings: VehicleSettings,
        slot: Arc<SnapshotSlot>,
    ) -> Self {
        Self {
            imei,
            device_id,
            vehicle_id,
            profile,
            settings,
            latest_ts: None,
            live: None,
            motion: MotionTracker::default(),
            last_received: None,
            records_total: 0,
            late_total: 0,
            slot,
            fences: FenceTracker::default(),
            route: crate::transit::RouteTracker::default(),
        }
    }

    fn snapshot(&self) -> VehicleSnapshot {
        VehicleSnapshot {
            imei: self.imei,
            profile: self.profile.name().to_owned(),
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

    fn event_rows(&self, events: &[VehicleEvent]) -> Vec<NewEvent> {
        events
            .iter()
            .map(|e| NewEvent {
                device_id: self.device_id,
                time_ms: e.at().timestamp_millis(),
                kind: e.kind().to_owned(),
                data: self.event_data(e),
                subject: e.subject(),
            })
            .collect()
    }

    /// An event as stored: its JSON with the vehicle the tracker rides in now, so trips,
    /// stays and arrivals keep the vehicle they were made with.
    fn event_data(&self, e: &VehicleEvent) -> String {
        let mut v = serde_json::to_value(e).unwrap_or_default();
        if let (Some(id), Some(o)) = (self.vehicle_id, v.as_object_mut()) {
            o.insert("vehicle_id".into(), id.into());
        }
        v.to_string()
    }

    /// Live pushes: the hot path never waits on the database.
    fn emit(&self, records: Vec<TelemetryRecord>, events: Vec<VehicleEvent>) {
        for e in &events {
            metrics::counter!(VEHICLE_EVENTS_TOTAL, "kind" => e.kind()).increment(1);
        }
        if self.settings.downstream.is_empty() || (records.is_empty() && events.is_empty()) {
            return;
        }
        let msg = TelemetryAccepted {
            imei: self.imei,
            device_id: self.device_id,
            vehicle_id: self.vehicle_id,
            records: Arc::from(records),
            events: Arc::from(events),
        };
        for r in self.settings.downstream.iter() {
            if r.try_send(msg.clone()).is_err() {
                metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "vehicle_downstream")
                    .increment(1);
            }
        }
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
            live.motion = self.motion.motion;
        }
        self.publish();
        let rows = self.event_rows(&events);
        if self
            .settings
            .persist
            .try_send(PersistTelemetry {
                rows: vec![],
                can: vec![],
                events: rows,
            })
            .is_err()
        {
            metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "vehicle_events").increment(1);
        }
        self.emit(Vec::new(), events);
    }
}

impl Actor for VehicleActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.settings.mailbox);
        let every = (self.settings.offline_after / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(30));
        ctx.run_interval(every, |act, _| act.check_offline());
    }
}

impl Supervised for VehicleActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        // Live state is kept in the actor value across restarts.
        metrics::counter!(ACTOR_RESTARTS_TOTAL, "actor" => "vehicle").increment(1);
        tracing::warn!(imei = %self.imei, "vehicle actor restarting");
    }
}

impl Handler<IngestRecords> for VehicleActor {
    type Result = ResponseFuture<Result<IngestOutcome, VehicleError>>;

    fn handle(&mut self, msg: IngestRecords, _ctx: &mut Self::Context) -> Self::Result {
        let accepted = msg.records.len() as u32;
        self.last_received = Some((Instant::now(), msg.received_at));
        let (ordered, latest) = order_records(self.latest_ts, msg.records);
        self.latest_ts = latest;
        let mut late = 0u32;
        let mut out = Vec::with_capacity(ordered.len());
        let mut rows = Vec::with_capacity(ordered.len());
        let mut can = Vec::new();
        let mut events = Vec::new();
        let fences = self.settings.fences.current();
        let route = self.settings.routes.current().route_of(self.vehicle_id);
        for o in ordered {
            let named = self.profile.named(&o.record.io);
            let mut fence_limit = None;
            let distance = if o.late {
                late += 1;
                0.0
            } else {
                let distance = apply_live(&mut self.live, &o.record, &named, msg.received_at);
                let g = &o.record.gps;
                events.extend(
                    self.motion.observe(
                        Observation {
                            at: super::logic::device_time(o.record.timestamp_ms),
                            speed_kmh: f64::from(g.speed),
                            ignition: named
                                .iter()
                                .find(|(k, _)| &**k == "ignition")
                                .and_then(|(_, v)| v.as_bool()),
                            position: g.valid().then(|| (g.latitude_deg(), g.longitude_deg())),
                            distance_m: distance,
                            fuel_used_l: super::logic::named_value(&named, "fuel_consumed_l")
                                .and_then(crate::teltonika::io_profile::NamedValue::as_f64),
                        },
                        &self.settings.motion,
                    ),
                );
                // Geofences see live fixes only, in device time: late records raise nothing.
                if g.valid() && !fences.is_empty() {
                    let at_ms = i64::try_from(o.record.timestamp_ms).unwrap_or(i64::MAX);
                    let seen =
                        self.fences
                            .observe(&fences, at_ms, g.latitude_deg(), g.longitude_deg());
                    events.extend(seen.into_iter().map(|e| fence_event(&fences, e)));
                }
                fence_limit = self.fences.speed_limit(&fences);
                if g.valid() && (route.is_some() || self.route.progress().is_some()) {
                    let at_ms = i64::try_from(o.record.timestamp_ms).unwrap_or(i64::MAX);
                    let seen = self.route.observe(
                        route.as_deref(),
                        at_ms,
                        g.latitude_deg(),
                        g.longitude_deg(),
                    );
                    events.extend(seen.into_iter().map(route_event));
                }
                distance
            };
            can.extend(to_can_row(self.device_id, &o.record, &named));
            rows.push(to_row(
                self.device_id,
                &o.record,
                &named,
                o.late,
                distance,
                msg.received_at,
            ));
            out.push(TelemetryRecord {
                record: o.record,
                named,
                late: o.late,
                received_at: msg.received_at,
                fence_limit,
            });
        }
        if let Some(live) = &mut self.live {
            live.motion = self.motion.motion;
            live.engine_hours_h = self.motion.engine_seconds / 3600.0;
        }
        self.records_total += u64::from(accepted);
        if late > 0 {
            self.late_total += u64::from(late);
            metrics::counter!(VEHICLE_RECORDS_LATE_TOTAL).increment(u64::from(late));
            tracing::debug!(imei = %self.imei, late, "late records stored, live state kept");
        }
        let event_rows = self.event_rows(&events);
        self.publish();
        self.emit(out, events);
        let persist = self.settings.persist.send(PersistTelemetry {
            rows,
            can,
            events: event_rows,
        });
        let imei = self.imei;
        Box::pin(async move {
            match persist.await {
                Ok(Ok(())) => Ok(IngestOutcome { accepted, late }),
                Ok(Err(e)) => {
                    tracing::warn!(%imei, "records not stored: {e}");
                    Err(VehicleError::Storage(e.to_string()))
                }
                Err(_mailbox) => Err(VehicleError::Unavailable),
            }
        })
    }
}

impl Handler<GetSnapshot> for VehicleActor {
    type Result = MessageResult<GetSnapshot>;

    fn handle(&mut self, _msg: GetSnapshot, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.snapshot())
    }
}

impl Handler<SetVehicle> for VehicleActor {
    type Result = ();

    fn handle(&mut self, msg: SetVehicle, _ctx: &mut Self::Context) {
        self.vehicle_id = msg.0;
    }
}

impl Handler<super::messages::IdleFor> for VehicleActor {
    type Result = Option<Duration>;

    fn handle(&mut self, _msg: super::messages::IdleFor, _ctx: &mut Self::Context) -> Self::Result {
        if self.motion.motion != super::motion::Motion::Offline {
            return None;
        }
        Some(
            self.last_received
                .map_or(Duration::MAX, |(at, _)| at.elapsed()),
        )
    }
}

impl Handler<super::messages::Retire> for VehicleActor {
    type Result = ();

    fn handle(&mut self, _msg: super::messages::Retire, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

/// A geofence event as the vehicle reports it.
fn fence_event(index: &crate::rules::FenceIndex, e: FenceEvent) -> VehicleEvent {
    let name = |id: i64| index.get(id).map(|f| f.name.clone()).unwrap_or_default();
    let time = |ms: i64| chrono::DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    match e {
        FenceEvent::Enter { fence, at_ms } => VehicleEvent::GeofenceEntered {
            at: time(at_ms),
            fence,
            name: name(fence),
        },
        FenceEvent::Exit {
            fence,
            at_ms,
            dwell_ms,
        } => VehicleEvent::GeofenceExited {
            at: time(at_ms),
            fence,
            name: name(fence),
            dwell_s: dwell_ms as f64 / 1000.0,
        },
        FenceEvent::Crossed { fence, at_ms } => VehicleEvent::GeofenceCrossed {
            at: time(at_ms),
            fence,
            name: name(fence),
        },
    }
}

/// A route event as the vehicle reports it.
fn route_event(e: crate::transit::RouteEvent) -> VehicleEvent {
    let time = |ms: i64| chrono::DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    match e {
        crate::transit::RouteEvent::Arrived {
            route,
            stop,
            seq,
            at_ms,
        } => VehicleEvent::StopArrived {
            at: time(at_ms),
            route,
            stop,
            seq,
        },
        crate::transit::RouteEvent::Departed {
            route,
            stop,
            seq,
            arrived_ms,
            at_ms,
        } => VehicleEvent::StopDeparted {
            at: time(at_ms),
            route,
            stop,
            seq,
            arrived_ms,
            dwell_s: (at_ms - arrived_ms) as f64 / 1000.0,
        },
    }
}
