use std::sync::Arc;

use actix::Message;
use chrono::{DateTime, Utc};
use serde::Serialize;
use urbanstream_schema::Imei;

use super::logic::LiveState;
use crate::teltonika::codec::AvlRecord;
use crate::teltonika::io_profile::NamedValues;

/// How the records arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// One decoded frame's records for the vehicle. The reply is what the session acknowledges.
#[derive(Debug, Message)]
#[rtype(result = "Result<IngestOutcome, VehicleError>")]
pub struct IngestRecords {
    pub records: Vec<AvlRecord>,
    pub received_at: DateTime<Utc>,
    pub transport: Transport,
}

/// Records taken over by the vehicle; `late` of them were older than its latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOutcome {
    pub accepted: u32,
    pub late: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VehicleError {
    #[error("vehicle actor is unavailable")]
    Unavailable,
    #[error("records not stored: {0}")]
    Storage(String),
}

/// Asks for the vehicle's current state.
#[derive(Debug, Message)]
#[rtype(result = "VehicleSnapshot")]
pub struct GetSnapshot;

#[derive(Debug, Clone, Serialize)]
pub struct VehicleSnapshot {
    pub imei: Imei,
    pub profile: String,
    pub motion: super::motion::Motion,
    pub live: Option<LiveState>,
    pub records_total: u64,
    pub late_total: u64,
    /// Progress along the vehicle's route, when it runs one and has reached a stop.
    pub route: Option<crate::transit::Progress>,
}

/// One record as accepted: decoded, named by the device's profile, flagged when late.
#[derive(Debug, Clone, Serialize)]
pub struct TelemetryRecord {
    #[serde(flatten)]
    pub record: AvlRecord,
    #[serde(serialize_with = "crate::teltonika::io_profile::serialize_named")]
    pub named: NamedValues,
    pub late: bool,
    pub received_at: DateTime<Utc>,
    /// The lowest speed limit of the geofences the vehicle was in at this fix, and that
    /// fence (live records only).
    #[serde(skip)]
    pub fence_limit: Option<(f64, i64)>,
}

/// Emitted by a vehicle for every frame it accepted (records in device-time order) and for
/// the events it raised, with or without records (going offline has none).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct TelemetryAccepted {
    pub imei: Imei,
    /// The device's database id.
    pub device_id: i64,
    /// The vehicle the device rides in, when assigned.
    pub vehicle_id: Option<i64>,
    pub records: Arc<[TelemetryRecord]>,
    pub events: Arc<[super::motion::VehicleEvent]>,
}

/// The vehicle this device rides in changed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetVehicle(pub Option<i64>);

/// How long the vehicle has been offline without data; `None` while it is online.
#[derive(Debug, Message)]
#[rtype(result = "Option<std::time::Duration>")]
pub struct IdleFor;

/// Stop: the registry has let go of this actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Retire;
