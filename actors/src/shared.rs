//! A value many actors read and one task replaces whole (the geofence index, the route
//! network): readers take the current `Arc` once per frame and never wait on a rebuild.

use std::sync::{Arc, RwLock};

pub struct Swap<T>(Arc<RwLock<Arc<T>>>);

impl<T> Clone for Swap<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Default> Default for Swap<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T: Default> Swap<T> {
    pub fn current(&self) -> Arc<T> {
        self.0.read().map(|g| g.clone()).unwrap_or_default()
    }

    pub fn replace(&self, value: T) {
        if let Ok(mut g) = self.0.write() {
            *g = Arc::new(value);
        }
    }
}
