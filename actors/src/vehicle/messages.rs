use serde::Serialize;
use urbanstream_schema::Imei;

use super::logic::LiveState;
use crate::entity::Motion;

/// What a tracker actor publishes after every change.
#[derive(Debug, Clone, Serialize)]
pub struct VehicleSnapshot {
    pub imei: Imei,
    pub profile: String,
    pub motion: Motion,
    pub live: Option<std::sync::Arc<LiveState>>,
    pub records_total: u64,
    pub late_total: u64,
    /// Progress along the vehicle's route, when it runs one and has reached a stop.
    pub route: Option<crate::transit::Progress>,
}
