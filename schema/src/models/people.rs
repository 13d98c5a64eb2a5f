//! Cameras and people: zones on the floor, tracking sessions, the identities a session saw
//! and where they went.

use diesel::prelude::*;
use serde::Serialize;

use crate::schema::{
    person_appearances, person_identities, person_sightings, tracking_sessions, trajectory_points,
    zone_events, zones,
};

/// A zone: a polygon on an environment's floor plan (metres).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = zones)]
pub struct ZoneRow {
    pub id: i64,
    pub environment: String,
    pub name: String,
    pub kind: String,
    /// JSON `[[x, y], …]`.
    pub polygon: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = zones)]
pub struct NewZone {
    pub environment: String,
    pub name: String,
    pub kind: String,
    pub polygon: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A tracking session: one run of an environment's cameras, whose people are recorded.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = tracking_sessions)]
pub struct SessionRow {
    pub id: i64,
    pub environment: String,
    /// `running`, `paused` or `stopped`.
    pub state: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub started_by: String,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = tracking_sessions)]
pub struct NewSession {
    pub environment: String,
    pub state: String,
    pub started_ms: i64,
    pub started_by: String,
    pub updated_ms: i64,
}

/// A global identity of a session, as stored (inserted, then updated as it is seen).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = person_identities)]
pub struct PersonRow {
    pub id: i64,
    pub session_id: i64,
    pub global_id: i64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// JSON array of camera ids.
    pub cameras: String,
    pub distance_m: f64,
    pub merged_into: Option<i64>,
}

/// An identity's state to write: inserted, or updated where the row exists.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonUpsert {
    pub session_id: i64,
    pub global_id: i64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub cameras: String,
    pub distance_m: f64,
    pub merged_into: Option<i64>,
}

#[derive(
    Debug, Clone, PartialEq, Insertable, Queryable, Selectable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = trajectory_points)]
pub struct TrajectoryPointRow {
    pub session_id: i64,
    pub global_id: i64,
    pub time_ms: i64,
    pub x_m: f64,
    pub y_m: f64,
    pub cameras: i32,
}

/// One camera's continuous view of an identity (its end moves on while it lasts).
#[derive(
    Debug, Clone, PartialEq, Insertable, Queryable, Selectable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = person_sightings)]
pub struct SightingRow {
    pub session_id: i64,
    pub global_id: i64,
    pub camera: i32,
    pub first_ms: i64,
    pub last_ms: i64,
}

#[derive(
    Debug, Clone, PartialEq, Insertable, Queryable, Selectable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = zone_events)]
pub struct ZoneEventRow {
    pub session_id: i64,
    pub global_id: i64,
    pub zone_id: i64,
    /// `enter` or `exit`.
    pub kind: String,
    pub time_ms: i64,
    /// Seconds inside, on an exit.
    pub dwell_s: Option<f64>,
}

/// People-tracking rows of one batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeopleRows {
    pub identities: Vec<PersonUpsert>,
    pub points: Vec<TrajectoryPointRow>,
    pub sightings: Vec<SightingRow>,
    pub zone_events: Vec<ZoneEventRow>,
    /// Learnt appearances (upserted), where recording them is on.
    pub appearances: Vec<AppearanceRow>,
}

/// An identity's learnt appearance: a unit vector as a JSON array.
#[derive(Debug, Clone, PartialEq, Insertable, Queryable, Selectable)]
#[diesel(table_name = person_appearances)]
pub struct AppearanceRow {
    pub session_id: i64,
    pub global_id: i64,
    pub vector: String,
    pub updated_ms: i64,
}

impl PeopleRows {
    pub fn len(&self) -> usize {
        self.identities.len()
            + self.points.len()
            + self.sightings.len()
            + self.zone_events.len()
            + self.appearances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn append(&mut self, mut other: PeopleRows) {
        self.identities.append(&mut other.identities);
        self.points.append(&mut other.points);
        self.sightings.append(&mut other.sightings);
        self.zone_events.append(&mut other.zone_events);
        self.appearances.append(&mut other.appearances);
    }
}
