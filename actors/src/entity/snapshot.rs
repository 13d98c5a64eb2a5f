//! The latest snapshot of a running entity, published by its actor after every change and
//! read without a message (REST, WebSocket first frames).

use std::any::Any;
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use serde::Serialize;

/// What an entity publishes: its snapshot, and that snapshot's JSON, rendered once on first
/// read.
pub struct Published<S> {
    pub snapshot: S,
    json: OnceLock<Bytes>,
}

impl<S: Serialize> Published<S> {
    pub fn new(snapshot: S) -> Self {
        Self {
            snapshot,
            json: OnceLock::new(),
        }
    }

    pub fn json(&self) -> Bytes {
        self.json
            .get_or_init(|| {
                serde_json::to_vec(&self.snapshot)
                    .unwrap_or_default()
                    .into()
            })
            .clone()
    }
}

/// A published snapshot of any kind, as the registry holds it.
pub trait Snapshot: Send + Sync + 'static {
    /// The snapshot as JSON.
    fn json(&self) -> Bytes;
    /// For readers that know the kind (`downcast_ref::<Published<VehicleSnapshot>>`).
    fn as_any(&self) -> &dyn Any;
}

impl<S: Serialize + Send + Sync + 'static> Snapshot for Published<S> {
    fn json(&self) -> Bytes {
        Published::json(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Where one entity's latest snapshot is published. Only its actor writes it.
#[derive(Default)]
pub struct SnapshotSlot(RwLock<Option<Arc<dyn Snapshot>>>);

impl SnapshotSlot {
    pub fn latest(&self) -> Option<Arc<dyn Snapshot>> {
        self.0.read().ok()?.clone()
    }

    pub fn publish<S: Serialize + Send + Sync + 'static>(&self, snapshot: S) {
        let p: Arc<dyn Snapshot> = Arc::new(Published::new(snapshot));
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(p);
        }
    }
}

/// The typed snapshot inside a published one.
pub fn typed<S: 'static>(p: &dyn Snapshot) -> Option<&S> {
    p.as_any()
        .downcast_ref::<Published<S>>()
        .map(|p| &p.snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Thing {
        n: u32,
    }

    #[test]
    fn a_slot_holds_the_latest_and_reads_back_typed() {
        let slot = SnapshotSlot::default();
        assert!(slot.latest().is_none());
        slot.publish(Thing { n: 1 });
        slot.publish(Thing { n: 2 });
        let p = slot.latest().unwrap();
        assert_eq!(typed::<Thing>(&*p).map(|t| t.n), Some(2));
        assert!(typed::<String>(&*p).is_none());
        assert_eq!(&p.json()[..], br#"{"n":2}"#);
    }
}
