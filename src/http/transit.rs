//! What the route and stop handlers share: reloading the route index after a change, and
//! the per-route ETA models learned from recent arrivals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use urbanstream_actors::transit::eta::Observed;
use urbanstream_actors::transit::{EtaModel, RouteIndex};

use super::{ApiError, HttpState};

/// How far back arrivals teach the ETA model.
const LEARN_DAYS: i64 = 14;
/// How long a learned model is reused.
const MODEL_TTL_MS: i64 = 60_000;

/// ETA models by route, each with the time it was learned.
#[derive(Default)]
pub struct EtaCache(Mutex<HashMap<i64, (i64, Arc<EtaModel>)>>);

impl EtaCache {
    /// The route's model, learned again when older than a minute.
    pub async fn model(
        &self,
        state: &HttpState,
        route_id: i64,
        now_ms: i64,
    ) -> Result<Arc<EtaModel>, ApiError> {
        if let Some((at, m)) = self.0.lock().ok().and_then(|g| g.get(&route_id).cloned()) {
            if now_ms - at < MODEL_TTL_MS {
                return Ok(m);
            }
        }
        let rows = state
            .store
            .route_arrivals(route_id, now_ms - LEARN_DAYS * 86_400_000, i64::MAX)
            .await?;
        let seen: Vec<Observed> = rows
            .iter()
            .map(|a| Observed {
                device_id: a.device_id,
                seq: usize::try_from(a.seq).unwrap_or(0),
                arrived_ms: a.arrived_ms,
                departed_ms: a.departed_ms,
            })
            .collect();
        let model = Arc::new(EtaModel::learn(&seen));
        if let Ok(mut g) = self.0.lock() {
            g.insert(route_id, (now_ms, model.clone()));
        }
        Ok(model)
    }
}

/// Rebuilds this node's route index at once (other nodes reload within seconds).
pub(crate) async fn reload(state: &HttpState) -> Result<(), ApiError> {
    let n = state.store.network().await?;
    state.routes.replace(RouteIndex::from_network(&n));
    Ok(())
}
