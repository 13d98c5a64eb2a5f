use std::sync::Arc;

use actix::{ArbiterHandle, Supervisor};

use super::actor::{TrackerActor, TrackerSettings};
use crate::entity::{
    DeviceRecord, EntityFactory, EntityHandle, EntityKey, EntityKind, SnapshotSlot,
};

/// Names the IO profile a device model's readings are named with.
pub type ProfileOf = Arc<dyn Fn(&str) -> Arc<str> + Send + Sync>;

/// Starts one [`TrackerActor`] per tracker.
pub struct TrackerFactory {
    pub settings: TrackerSettings,
    pub profile_of: ProfileOf,
}

impl EntityFactory for TrackerFactory {
    fn kind(&self) -> EntityKind {
        EntityKind::Tracker
    }

    fn start(&self, device: &DeviceRecord, arbiter: &ArbiterHandle) -> Option<EntityHandle> {
        let EntityKey::Tracker(imei) = device.key else {
            return None;
        };
        let (device_id, vehicle_id) = (device.device_id, device.vehicle_id);
        let profile = (self.profile_of)(&device.model);
        let settings = self.settings.clone();
        let slot = Arc::new(SnapshotSlot::default());
        let actor_slot = slot.clone();
        let addr = Supervisor::start_in_arbiter(arbiter, move |_| {
            TrackerActor::new(imei, device_id, vehicle_id, profile, settings, actor_slot)
        });
        Some(EntityHandle {
            ingest: addr.clone().recipient(),
            control: addr.recipient(),
            slot,
        })
    }
}
