use std::sync::Arc;

use actix::{ArbiterHandle, Supervisor};

use super::actor::{RobotActor, RobotSettings};
use crate::entity::{
    DeviceRecord, EntityFactory, EntityHandle, EntityKey, EntityKind, SnapshotSlot,
};

/// Starts one [`RobotActor`] per robot.
pub struct RobotFactory {
    pub settings: RobotSettings,
}

impl EntityFactory for RobotFactory {
    fn kind(&self) -> EntityKind {
        EntityKind::Robot
    }

    fn start(&self, device: &DeviceRecord, arbiter: &ArbiterHandle) -> Option<EntityHandle> {
        let EntityKey::Robot(robot) = device.key else {
            return None;
        };
        let device_id = device.device_id;
        let settings = self.settings.clone();
        let slot = Arc::new(SnapshotSlot::default());
        let actor_slot = slot.clone();
        let addr = Supervisor::start_in_arbiter(arbiter, move |_| {
            RobotActor::new(robot, device_id, settings, actor_slot)
        });
        Some(EntityHandle {
            ingest: addr.clone().recipient(),
            control: addr.recipient(),
            slot,
        })
    }

    /// Robots are created through the API, never on first contact.
    fn register_unknown(&self) -> Option<bool> {
        Some(false)
    }
}
