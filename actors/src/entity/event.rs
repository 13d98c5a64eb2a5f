//! Typed domain events and the states they name.

use chrono::{DateTime, Utc};
use serde::Serialize;
use urbanstream_schema::models::{CommandRow, NewEvent};
use urbanstream_schema::{DeviceId, RouteId, StopId};

use super::observation::{NodeStatus, RobotState, SafetyKind};
use crate::geo::{FenceChange, FenceEvent};

/// A vehicle's motion state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Motion {
    Offline,
    Parked,
    Idling,
    Moving,
}

/// What happened to an entity: typed from the actor that saw it to the store and the
/// subscribers. Stored and pushed as its JSON (`kind` plus the variant's fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntityEvent {
    WentOnline {
        at: DateTime<Utc>,
    },
    WentOffline {
        at: DateTime<Utc>,
        last_seen: DateTime<Utc>,
    },
    MotionChanged {
        at: DateTime<Utc>,
        from: Motion,
        to: Motion,
    },
    TripStarted {
        at: DateTime<Utc>,
        lat: Option<f64>,
        lon: Option<f64>,
    },
    TripEnded {
        at: DateTime<Utc>,
        started_at: DateTime<Utc>,
        distance_m: f64,
        duration_s: i64,
        lat: Option<f64>,
        lon: Option<f64>,
        start_lat: Option<f64>,
        start_lon: Option<f64>,
        max_speed_kmh: f64,
        /// Engine on, standing, within the trip.
        idle_s: f64,
        /// From the CAN fuel counter, when the vehicle reports one.
        fuel_used_l: Option<f64>,
    },
    /// A stay between two trips ended: the vehicle drove off.
    StopEnded {
        at: DateTime<Utc>,
        started_at: DateTime<Utc>,
        duration_s: i64,
        lat: Option<f64>,
        lon: Option<f64>,
    },
    GeofenceEntered(FenceEvent),
    GeofenceExited(FenceEvent),
    /// Reached a stop of its route.
    StopArrived {
        at: DateTime<Utc>,
        route: RouteId,
        stop: StopId,
        seq: usize,
    },
    /// Left a stop of its route.
    StopDeparted {
        at: DateTime<Utc>,
        route: RouteId,
        stop: StopId,
        seq: usize,
        arrived_ms: i64,
        dwell_s: f64,
    },
    /// Two fixes either side of the fence, neither inside: passed through between them.
    GeofenceCrossed(FenceEvent),
    /// A command to the device changed state in the ledger (queued, sent, answered, …).
    CommandUpdated {
        at: DateTime<Utc>,
        command: Box<CommandRow>,
    },
    /// A device's own status changed (an edge node: active, idle, fault, offline).
    StatusChanged {
        at: DateTime<Utc>,
        from: NodeStatus,
        to: NodeStatus,
    },
    /// A device announced a (re)start.
    Born {
        at: DateTime<Utc>,
        boot: Option<i64>,
    },
    /// Messages of the device's stream are missing: sequence numbers skipped.
    SequenceGap {
        at: DateTime<Utc>,
        boot: i64,
        expected: i64,
        got: i64,
    },
    /// A consensus round whose reported result differs from what its votes give.
    ConsensusDisagreed {
        at: DateTime<Utc>,
        round_number: i64,
        reported: Option<serde_json::Value>,
        computed: Option<serde_json::Value>,
    },
    /// A robot's state changed (idle, moving, fault, emergency stopped, stale, …).
    RobotStateChanged {
        at: DateTime<Utc>,
        from: RobotState,
        to: RobotState,
    },
    /// A safety condition of a robot began (`active`) or ended.
    Safety {
        at: DateTime<Utc>,
        condition: SafetyKind,
        active: bool,
        detail: String,
    },
}

impl From<FenceEvent> for EntityEvent {
    fn from(e: FenceEvent) -> Self {
        match e.change {
            FenceChange::Entered => Self::GeofenceEntered(e),
            FenceChange::Exited { .. } => Self::GeofenceExited(e),
            FenceChange::Crossed => Self::GeofenceCrossed(e),
        }
    }
}

impl EntityEvent {
    /// The fence event, when this is one.
    pub fn fence(&self) -> Option<&FenceEvent> {
        match self {
            Self::GeofenceEntered(e) | Self::GeofenceExited(e) | Self::GeofenceCrossed(e) => {
                Some(e)
            }
            _ => None,
        }
    }

    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::WentOnline { at }
            | Self::WentOffline { at, .. }
            | Self::MotionChanged { at, .. }
            | Self::TripStarted { at, .. }
            | Self::TripEnded { at, .. }
            | Self::StopEnded { at, .. }
            | Self::StopArrived { at, .. }
            | Self::StopDeparted { at, .. }
            | Self::CommandUpdated { at, .. }
            | Self::StatusChanged { at, .. }
            | Self::Born { at, .. }
            | Self::SequenceGap { at, .. }
            | Self::ConsensusDisagreed { at, .. }
            | Self::RobotStateChanged { at, .. }
            | Self::Safety { at, .. } => *at,
            Self::GeofenceEntered(e) | Self::GeofenceExited(e) | Self::GeofenceCrossed(e) => e.at(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::WentOnline { .. } => "went_online",
            Self::WentOffline { .. } => "went_offline",
            Self::MotionChanged { .. } => "motion_changed",
            Self::TripStarted { .. } => "trip_started",
            Self::TripEnded { .. } => "trip_ended",
            Self::StopEnded { .. } => "stop_ended",
            Self::StopArrived { .. } => "stop_arrived",
            Self::StopDeparted { .. } => "stop_departed",
            Self::GeofenceEntered(_) => "geofence_entered",
            Self::GeofenceExited(_) => "geofence_exited",
            Self::GeofenceCrossed(_) => "geofence_crossed",
            Self::CommandUpdated { .. } => "command_updated",
            Self::StatusChanged { .. } => "status_changed",
            Self::Born { .. } => "born",
            Self::SequenceGap { .. } => "sequence_gap",
            Self::ConsensusDisagreed { .. } => "consensus_disagreed",
            Self::RobotStateChanged { .. } => "robot_state_changed",
            Self::Safety { .. } => "safety",
        }
    }

    /// The event as a row of device `device`'s event log (its JSON as `data`).
    pub fn row(&self, device: DeviceId) -> NewEvent {
        NewEvent {
            device_id: device.0,
            time_ms: self.at().timestamp_millis(),
            kind: self.kind().to_owned(),
            data: serde_json::to_string(self).unwrap_or_default(),
            subject: self.subject(),
        }
    }

    /// What the event is about besides the entity (the geofence, the stop); empty for none.
    pub fn subject(&self) -> String {
        match self {
            Self::GeofenceEntered(e) | Self::GeofenceExited(e) | Self::GeofenceCrossed(e) => {
                e.fence.to_string()
            }
            Self::StopArrived { stop, .. } | Self::StopDeparted { stop, .. } => stop.to_string(),
            Self::Safety { condition, .. } => condition.as_str().to_owned(),
            _ => String::new(),
        }
    }
}
