use std::sync::Arc;

use actix::{ArbiterHandle, Supervisor};

use super::actor::{EdgeNodeActor, EdgeSettings};
use crate::entity::{
    DeviceRecord, EntityFactory, EntityHandle, EntityKey, EntityKind, SnapshotSlot,
};

/// Starts one [`EdgeNodeActor`] per edge node.
pub struct EdgeNodeFactory {
    pub settings: EdgeSettings,
    /// Whether a node never seen before is registered on first contact.
    pub register_unknown: bool,
}

impl EntityFactory for EdgeNodeFactory {
    fn kind(&self) -> EntityKind {
        EntityKind::EdgeNode
    }

    fn start(&self, device: &DeviceRecord, arbiter: &ArbiterHandle) -> Option<EntityHandle> {
        let EntityKey::EdgeNode(node) = device.key else {
            return None;
        };
        let device_id = device.device_id;
        let settings = self.settings.clone();
        let slot = Arc::new(SnapshotSlot::default());
        let actor_slot = slot.clone();
        let addr = Supervisor::start_in_arbiter(arbiter, move |_| {
            EdgeNodeActor::new(node, device_id, settings, actor_slot)
        });
        Some(EntityHandle {
            ingest: addr.clone().recipient(),
            control: addr.recipient(),
            slot,
        })
    }

    fn default_model(&self) -> Option<String> {
        Some(urbanstream_schema::store::EDGE_NODE_MODEL.to_owned())
    }

    fn register_unknown(&self) -> Option<bool> {
        Some(self.register_unknown)
    }
}
