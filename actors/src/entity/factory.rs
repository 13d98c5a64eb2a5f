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
    /// `None` when the device is not of this factory's kind.
    fn start(&self, device: &DeviceRecord, arbiter: &ArbiterHandle) -> Option<EntityHandle>;

    /// The model a device of this kind is registered with on first contact; `None`: the
    /// registry's default.
    fn default_model(&self) -> Option<String> {
        None
    }

    /// Whether an unknown device of this kind is registered on first contact; `None`: the
    /// registry's setting.
    fn register_unknown(&self) -> Option<bool> {
        None
    }
}
