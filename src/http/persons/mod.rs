//! Recorded people (`/api/v1/persons`): anonymous identities of tracking sessions, found by
//! time, session, camera or zone; each one's floor trajectory and journey (cameras and zones
//! in order), and the people who look alike. The people in view now are
//! `GET /api/v1/tracking/active`.

pub mod active;
pub mod get;
pub mod search;
pub mod similar;

use chrono::{DateTime, Utc};
use serde::Serialize;
use urbanstream_schema::models::PersonRow;
use utoipa::ToSchema;

use super::{ApiError, HttpState};

/// A recorded identity.
#[derive(Debug, Serialize, ToSchema)]
pub struct Person {
    /// Stable across sessions: what `/api/v1/persons/{id}` takes.
    pub id: i64,
    pub session_id: i64,
    /// The fusion's id within the session (what live updates carry).
    pub global_id: i64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub cameras_seen: Vec<u32>,
    pub distance_m: f64,
    /// The identity this one turned out to be, if any.
    pub merged_into: Option<i64>,
}

impl Person {
    pub fn from_row(r: &PersonRow) -> Self {
        Self {
            id: r.id,
            session_id: r.session_id,
            global_id: r.global_id,
            first_seen: DateTime::from_timestamp_millis(r.first_seen_ms),
            last_seen: DateTime::from_timestamp_millis(r.last_seen_ms),
            cameras_seen: serde_json::from_str(&r.cameras).unwrap_or_default(),
            distance_m: r.distance_m,
            merged_into: r.merged_into,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonList {
    pub items: Vec<Person>,
}

async fn person(state: &HttpState, id: i64) -> Result<PersonRow, ApiError> {
    state
        .store
        .person(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("person {id} not found")))
}
