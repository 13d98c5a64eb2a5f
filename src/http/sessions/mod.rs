//! Tracking sessions (`/api/v1/sessions`): an operator starts, pauses, resumes and stops the
//! site's cameras; what a session saw is recorded under its id.

pub mod control;
pub mod get;

use serde::Serialize;
use urbanstream_schema::models::SessionRow;
use utoipa::ToSchema;

use super::{ApiError, HttpState};
use crate::tracking::{SessionError, Sessions};

/// A session with, while it is open, its cameras' states and the people in view.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    #[serde(flatten)]
    pub session: SessionRow,
    /// `(camera id, state)` while the session is open.
    #[schema(value_type = Vec<Object>)]
    pub cameras: Vec<serde_json::Value>,
    /// People in view now (open sessions only).
    pub persons_active: Option<usize>,
    /// People recorded so far.
    pub persons_total: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionRow>,
}

fn sessions(state: &HttpState) -> Result<&Sessions, ApiError> {
    state
        .sessions
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("no camera is configured ([cameras] list)".into()))
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Conflict(..) => ApiError::Conflict(e.to_string()),
            SessionError::NotFound => ApiError::NotFound("session not found".into()),
            SessionError::Db(d) => d.into(),
        }
    }
}

async fn view(state: &HttpState, session: SessionRow) -> Result<SessionView, ApiError> {
    let s = sessions(state)?;
    let open = session.state != urbanstream_schema::store::SESSION_STOPPED;
    let cameras = if open {
        s.camera_states()
            .await
            .into_iter()
            .map(|(id, st)| serde_json::json!({"camera": id, "state": st}))
            .collect()
    } else {
        Vec::new()
    };
    let persons_active = if open {
        s.recorder
            .send(urbanstream_actors::reid::GetLivePeople)
            .await
            .ok()
            .filter(|l| l.session_id == Some(session.id))
            .map(|l| l.persons.len())
    } else {
        None
    };
    let persons_total = state
        .store
        .persons(urbanstream_schema::store::PersonFilter {
            session_id: Some(session.id),
            limit: 1_000_000,
            ..Default::default()
        })
        .await?
        .iter()
        .filter(|p| p.merged_into.is_none())
        .count();
    Ok(SessionView {
        session,
        cameras,
        persons_active,
        persons_total,
    })
}
