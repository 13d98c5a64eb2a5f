//! The published snapshots of the running entities, shared read-only with request handlers:
//! reading one entity's state needs no message. Only the registry writes it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use urbanstream_schema::VehicleId;

use crate::entity::{typed, EntityKey, Snapshot, SnapshotSlot};

struct Entry {
    slot: Arc<SnapshotSlot>,
    vehicle_id: Option<VehicleId>,
}

#[derive(Clone, Default)]
pub struct Directory(Arc<RwLock<HashMap<EntityKey, Entry>>>);

impl Directory {
    /// How many entities run.
    pub fn len(&self) -> usize {
        self.0.read().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The snapshot the entity's actor published last, without asking it.
    pub fn latest(&self, key: &EntityKey) -> Option<Arc<dyn Snapshot>> {
        let slot = self.0.read().ok()?.get(key)?.slot.clone();
        slot.latest()
    }

    /// The latest snapshot of `key` when it is an `S`.
    pub fn latest_as<S: Clone + 'static>(&self, key: &EntityKey) -> Option<S> {
        self.latest(key).and_then(|p| typed::<S>(&*p).cloned())
    }

    /// Every running entity's latest snapshot of type `S`.
    pub fn all_as<S: Clone + 'static>(&self) -> Vec<S> {
        self.collect(|_| true)
    }

    /// The latest snapshots of type `S` of the entities riding in `vehicle`.
    pub fn in_vehicle<S: Clone + 'static>(&self, vehicle: VehicleId) -> Vec<S> {
        self.collect(|e| e.vehicle_id == Some(vehicle))
    }

    fn collect<S: Clone + 'static>(&self, pick: impl Fn(&Entry) -> bool) -> Vec<S> {
        let Ok(map) = self.0.read() else {
            return Vec::new();
        };
        map.values()
            .filter(|e| pick(e))
            .filter_map(|e| e.slot.latest())
            .filter_map(|p| typed::<S>(&*p).cloned())
            .collect()
    }

    pub(super) fn insert(
        &self,
        key: EntityKey,
        slot: Arc<SnapshotSlot>,
        vehicle_id: Option<VehicleId>,
    ) {
        if let Ok(mut m) = self.0.write() {
            m.insert(key, Entry { slot, vehicle_id });
        }
    }

    pub(super) fn set_vehicle(&self, key: &EntityKey, vehicle_id: Option<VehicleId>) {
        if let Ok(mut m) = self.0.write() {
            if let Some(e) = m.get_mut(key) {
                e.vehicle_id = vehicle_id;
            }
        }
    }

    pub(super) fn remove(&self, key: &EntityKey) {
        if let Ok(mut m) = self.0.write() {
            m.remove(key);
        }
    }
}
