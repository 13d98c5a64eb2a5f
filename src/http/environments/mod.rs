//! Environments (`/api/v1/environments`): the site the cameras watch, its floor plan size,
//! its cameras and its zones.

pub mod get;

use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, HttpState};

/// A site: floor plan size in metres, how many cameras watch it, and its zones.
#[derive(Debug, Serialize, ToSchema)]
pub struct Environment {
    pub id: String,
    pub name: String,
    pub width_m: f64,
    pub height_m: f64,
    pub cameras: usize,
    pub zones: usize,
    /// The open tracking session, if any.
    pub session_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnvironmentList {
    pub items: Vec<Environment>,
}

/// The environment `id`, or 404.
fn check(state: &HttpState, id: &str) -> Result<(), ApiError> {
    if state.environment.id == id {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "environment `{id}` is not configured"
        )))
    }
}

async fn view(state: &HttpState) -> Result<Environment, ApiError> {
    let e = &state.environment;
    let zones = state.store.zones(Some(e.id.clone())).await?.len();
    let session_id = match &state.sessions {
        Some(s) => s.open().await?.map(|r| r.id),
        None => None,
    };
    Ok(Environment {
        id: e.id.clone(),
        name: e.name.clone(),
        width_m: e.width_m,
        height_m: e.height_m,
        cameras: state.cameras.len(),
        zones,
        session_id,
    })
}
