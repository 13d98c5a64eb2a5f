use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use urbanstream_schema::store::PersonFilter;

use super::{Person, PersonList};
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    pub session_id: Option<i64>,
    /// RFC 3339: people seen at or after.
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339: people seen at or before.
    pub to: Option<DateTime<Utc>>,
    /// People this camera saw.
    pub camera_id: Option<i32>,
    /// People who entered this zone.
    pub zone_id: Option<i64>,
    /// Identities merged into another are left out unless true.
    pub include_merged: Option<bool>,
    /// 1..=1000, default 100.
    pub limit: Option<i64>,
}

/// `GET /api/v1/persons`: recorded people, the latest seen first.
#[utoipa::path(get, path = "/api/v1/persons", tag = "cameras", params(SearchQuery), responses((status = 200, description = "People", body = PersonList)))]
pub async fn search(
    state: web::Data<HttpState>,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 1000".into()));
    }
    if let (Some(f), Some(t)) = (q.from, q.to) {
        if f > t {
            return Err(ApiError::BadRequest("`from` must not be after `to`".into()));
        }
    }
    let rows = state
        .store
        .persons(PersonFilter {
            session_id: q.session_id,
            from_ms: q.from.map(|t| t.timestamp_millis()),
            to_ms: q.to.map(|t| t.timestamp_millis()),
            camera: q.camera_id,
            zone_id: q.zone_id,
            limit,
        })
        .await?;
    let include_merged = q.include_merged.unwrap_or(false);
    Ok(HttpResponse::Ok().json(PersonList {
        items: rows
            .iter()
            .filter(|p| include_merged || p.merged_into.is_none())
            .map(Person::from_row)
            .collect(),
    }))
}
