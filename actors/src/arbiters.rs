//! A fixed set of arbiters (one per core) that connection and entity actors are spread over,
//! and dedicated arbiters for busy aggregators.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix::{Arbiter, ArbiterHandle};

/// Cheap to clone; all clones share the arbiters.
#[derive(Clone)]
pub struct ArbiterPool {
    inner: Arc<Inner>,
}

struct Inner {
    handles: Vec<ArbiterHandle>,
    next: AtomicUsize,
    /// Arbiters of single aggregators, stopped with the pool.
    dedicated: Mutex<Vec<ArbiterHandle>>,
}

impl ArbiterPool {
    /// Starts `n` arbiters (at least one), each a thread with its own event loop.
    pub fn start(n: usize) -> Self {
        let handles = (0..n.max(1)).map(|_| Arbiter::new().handle()).collect();
        let inner = Inner {
            handles,
            next: AtomicUsize::new(0),
            dedicated: Mutex::new(Vec::new()),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// One arbiter per available core.
    pub fn per_core() -> Self {
        Self::start(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Round robin, for connections.
    pub fn next(&self) -> &ArbiterHandle {
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.handles.len();
        &self.inner.handles[i]
    }

    /// Stable placement by key, for entities.
    pub fn for_key(&self, key: impl Hash) -> &ArbiterHandle {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        &self.inner.handles[(h.finish() % self.inner.handles.len() as u64) as usize]
    }

    /// A new arbiter for one busy actor (an aggregator), stopped with the pool.
    pub fn dedicated(&self) -> ArbiterHandle {
        let handle = Arbiter::new().handle();
        if let Ok(mut d) = self.inner.dedicated.lock() {
            d.push(handle.clone());
        }
        handle
    }

    /// Asks every arbiter to stop.
    pub fn stop(&self) {
        for h in &self.inner.handles {
            h.stop();
        }
        if let Ok(d) = self.inner.dedicated.lock() {
            for h in d.iter() {
                h.stop();
            }
        }
    }
}
