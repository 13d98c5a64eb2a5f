//! Cameras (`/api/v1/cameras`): the configured cameras' live state, and running them
//! (start, pause, resume, stop).

pub mod control;
pub mod list;

use serde::Serialize;
use urbanstream_actors::camera::{CameraState, GetStatus};
use utoipa::ToSchema;

use super::{ApiError, HttpState};
use crate::tracking::CameraHandle;

/// A camera: which edge node stream (or which video source) feeds it and its state
/// (`stopped`, `running`, `paused`, `failed`), frames tracked and dropped, and tracks alive.
#[derive(Debug, Serialize, ToSchema)]
pub struct Camera {
    pub id: u32,
    pub node: String,
    pub stream: String,
    /// A video file or stream URL the server decodes; its picture is on WebSocket topic
    /// `camera:{id}`.
    pub source: Option<String>,
    #[schema(value_type = String)]
    pub state: CameraState,
    pub frames: u64,
    pub dropped: u64,
    pub live_tracks: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CameraList {
    pub items: Vec<Camera>,
}

fn handle(state: &HttpState, id: u32) -> Result<&CameraHandle, ApiError> {
    state
        .cameras
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("camera {id} is not configured")))
}

async fn view(c: &CameraHandle) -> Result<Camera, ApiError> {
    let s = c
        .addr
        .send(GetStatus)
        .await
        .map_err(|e| ApiError::Unavailable(format!("camera {}: {e}", c.id)))?;
    Ok(Camera {
        id: c.id,
        node: c.node.clone(),
        stream: c.stream.clone(),
        source: c.entry.source.clone(),
        state: s.state,
        frames: s.frames,
        dropped: s.dropped,
        live_tracks: s.live_tracks,
    })
}
