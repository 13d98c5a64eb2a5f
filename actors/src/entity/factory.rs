//! How the registry starts an entity without knowing its kind: one factory per kind.

use std::sync::Arc;

use actix::{ArbiterHandle, Recipient};
use urbanstream_schema::{DeviceId, VehicleId};

use super::key::{EntityKey, EntityKind};
use super::messages::{Control, IngestReadings};
use super::snapshot::SnapshotSlot;

/// What the registry knows of a device when it starts its entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub key: EntityKey,
    pub device_id: DeviceId,
    /// The device model, as registered.
    pub model: String,
    /// The vehicle it rides in.
    pub vehicle_id: Option<VehicleId>,
}

/// How the registry (and through it, adapters) reach a running entity.
#[derive(Clone)]
pub struct EntityHandle {
    pub ingest: Recipient<IngestReadings>,
    pub control: Recipient<Control>,
    /// Where the entity publishes its snapshot.
    pub slot: Arc<SnapshotSlot>,
}

impl EntityHandle {
    /// Whether the actor is still running.
    pub fn running(&self) -> bool {
        self.ingest.connected()
    }
}

/// Starts the entities of one kind, each supervised (restarted when it stops, with its state
/// kept in the actor value) on the arbiter it is given.
pub trait EntityFactory: Send + 'static {
    fn kind(&self) -> EntityKind;
    fn start(&self, device: &DeviceRecord, arbiter: &ArbiterHandle) -> EntityHandle;
}
