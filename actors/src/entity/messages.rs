//! The messages of the seam: adapters → entities (`IngestReadings`), entities → aggregators
//! (`EntityUpdate`).

use std::sync::Arc;

use actix::{Message, Recipient};
use chrono::{DateTime, Utc};
use urbanstream_schema::{DeviceId, VehicleId};

use super::event::EntityEvent;
use super::key::EntityKey;
use super::reading::{Accepted, Quarantined, Reading};
use crate::errors::StorageError;
use urbanstream_schema::models::NewQuarantined;

/// One frame's readings for an entity. The reply is what the adapter acknowledges: once
/// `Ok`, the readings (and what was quarantined) are committed to the database.
#[derive(Debug, Message)]
#[rtype(result = "Result<IngestOutcome, EntityError>")]
pub struct IngestReadings {
    pub readings: Vec<Reading>,
    pub received_at: DateTime<Utc>,
    /// Readings of the same frame the adapter refused to hand over as they came (a clock out
    /// of range): stored in the quarantine with the entity's rows, answered like them.
    pub quarantined: Vec<Quarantined>,
}

impl IngestReadings {
    pub fn new(readings: Vec<Reading>, received_at: DateTime<Utc>) -> Self {
        Self {
            readings,
            received_at,
            quarantined: Vec::new(),
        }
    }

    /// The quarantine rows of this message, from `key`'s device; taken out of it.
    pub fn take_quarantined(&mut self, key: &EntityKey) -> Vec<NewQuarantined> {
        let received_ms = self.received_at.timestamp_millis();
        std::mem::take(&mut self.quarantined)
            .into_iter()
            .map(|q| NewQuarantined {
                received_ms,
                source: key.kind().as_str().to_owned(),
                subject: key.to_string(),
                reason: q.reason.to_owned(),
                detail: q.detail,
                payload: q.payload,
            })
            .collect()
    }
}

/// What the entity answers for: `accepted` readings, `late` of them older than its latest,
/// and `quarantined` more kept aside. The adapter acknowledges `accepted + quarantined`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOutcome {
    pub accepted: u32,
    pub late: u32,
    pub quarantined: u32,
}

impl IngestOutcome {
    /// What the device is told was received.
    pub fn answered(&self) -> u32 {
        self.accepted + self.quarantined
    }
}

/// Why an entity did not take readings. The adapter sends no acknowledgement, so the
/// device keeps them and sends them again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityError {
    #[error("entity actor is unavailable")]
    Unavailable,
    #[error("readings not stored: {0}")]
    Storage(#[from] StorageError),
}

impl EntityError {
    /// Bounded, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Storage(e) => e.kind(),
        }
    }
}

/// What an entity tells the aggregators (hub, rules, Redis, and tests' collectors) after
/// every frame it accepted, and for events with no readings (going offline, a command's
/// answer). Readings are in device-time order.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct EntityUpdate {
    pub key: EntityKey,
    /// The device's database id.
    pub device_id: DeviceId,
    /// The vehicle the device rides in, when assigned.
    pub vehicle_id: Option<VehicleId>,
    pub readings: Arc<[Accepted]>,
    pub events: Arc<[EntityEvent]>,
    /// The entity's state as JSON, when it changed in a way subscribers are told of as a
    /// whole (an edge node's status and health); trackers' live state goes out as telemetry.
    pub state: Option<bytes::Bytes>,
}

impl EntityUpdate {
    /// Hands the update to every aggregator downstream without waiting; a full mailbox is
    /// counted under `actor` (the hot path never blocks on an aggregator).
    pub fn fan_out(self, downstream: &[Recipient<EntityUpdate>], actor: &'static str) {
        for r in downstream {
            if r.try_send(self.clone()).is_err() {
                metrics::counter!(crate::metrics::ACTOR_MAILBOX_FULL_TOTAL, "actor" => actor)
                    .increment(1);
            }
        }
    }

    /// The newest live reading: what the live picture shows (late ones never move it back).
    pub fn latest_live(&self) -> Option<&Accepted> {
        self.readings.iter().rev().find(|r| !r.late)
    }
}

/// What the registry tells a running entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Message)]
#[rtype(result = "Option<std::time::Duration>")]
pub enum Control {
    /// The vehicle the device rides in changed.
    SetVehicle(Option<VehicleId>),
    /// How long it has been offline without data; `None` while online.
    IdleFor,
    /// The registry has let go of it: stop.
    Retire,
}
