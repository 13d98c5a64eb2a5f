use std::sync::Arc;

use actix::prelude::*;
use urbanstream_schema::Imei;

use super::logic::{apply_live, order_records, to_row, LiveState};
use super::messages::{
    GetSnapshot, IngestOutcome, IngestRecords, TelemetryAccepted, TelemetryRecord, VehicleError,
    VehicleSnapshot,
};
use crate::db_batcher::PersistTelemetry;
use crate::metrics::{ACTOR_MAILBOX_FULL_TOTAL, ACTOR_RESTARTS_TOTAL, VEHICLE_RECORDS_LATE_TOTAL};
use crate::teltonika::io_profile::IoProfile;

/// What every vehicle actor shares.
#[derive(Clone)]
pub struct VehicleSettings {
    pub mailbox: usize,
    /// Where accepted telemetry goes next (hub, database batcher, rules).
    pub downstream: Arc<[Recipient<TelemetryAccepted>]>,
    /// The database batcher: a frame is acknowledged once its rows are committed.
    pub persist: Recipient<PersistTelemetry>,
}

/// One per tracked vehicle: the owner of its live state.
pub struct VehicleActor {
    imei: Imei,
    device_id: i64,
    profile: Arc<IoProfile>,
    settings: VehicleSettings,
    latest_ts: Option<u64>,
    live: Option<LiveState>,
    records_total: u64,
    late_total: u64,
}

impl VehicleActor {
    pub fn new(
        imei: Imei,
        device_id: i64,
        profile: Arc<IoProfile>,
        settings: VehicleSettings,
    ) -> Self {
        Self {
            imei,
            device_id,
            profile,
            settings,
            latest_ts: None,
            live: None,
            records_total: 0,
            late_total: 0,
        }
    }
}

impl Actor for VehicleActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.settings.mailbox);
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
        let (ordered, latest) = order_records(self.latest_ts, msg.records);
        self.latest_ts = latest;
        let mut late = 0u32;
        let mut out = Vec::with_capacity(ordered.len());
        let mut rows = Vec::with_capacity(ordered.len());
        for o in ordered {
            let named = self.profile.named(&o.record.io);
            let distance = if o.late {
                late += 1;
                0.0
            } else {
                apply_live(&mut self.live, &o.record, &named, msg.received_at)
            };
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
            });
        }
        self.records_total += u64::from(accepted);
        if late > 0 {
            self.late_total += u64::from(late);
            metrics::counter!(VEHICLE_RECORDS_LATE_TOTAL).increment(u64::from(late));
            tracing::debug!(imei = %self.imei, late, "late records stored, live state kept");
        }
        // Live pushes first: the hot path never waits on the database.
        if !self.settings.downstream.is_empty() {
            let event = TelemetryAccepted {
                imei: self.imei,
                records: Arc::from(out),
            };
            for r in self.settings.downstream.iter() {
                if r.try_send(event.clone()).is_err() {
                    metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "vehicle_downstream")
                        .increment(1);
                }
            }
        }
        let persist = self.settings.persist.send(PersistTelemetry { rows });
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
        MessageResult(VehicleSnapshot {
            imei: self.imei,
            profile: self.profile.name().to_owned(),
            live: self.live.clone(),
            records_total: self.records_total,
            late_total: self.late_total,
        })
    }
}
