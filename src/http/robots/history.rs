use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use urbanstream_schema::models::RobotTelemetryBucket;
use utoipa::IntoParams;

use super::robot;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Start (RFC 3339); default an hour ago.
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339); default now.
    pub to: Option<DateTime<Utc>>,
    /// Bucket width for aggregates, seconds (default 60).
    pub bucket: Option<i64>,
    /// At most this many rows (default 1000, at most 10000).
    pub limit: Option<i64>,
}

impl Range {
    /// The robot's (checked to exist) window: (from, to, row limit).
    async fn of(&self, state: &HttpState, robot_id: i64) -> Result<(i64, i64, i64), ApiError> {
        robot(state, robot_id).await?;
        let (from, to) = self.bounds()?;
        Ok((from, to, self.limit.unwrap_or(1000).clamp(1, 10_000)))
    }

    fn bounds(&self) -> Result<(i64, i64), ApiError> {
        let to = self.to.unwrap_or_else(Utc::now).timestamp_millis();
        let from = self.from.map_or(to - 3_600_000, |f| f.timestamp_millis());
        if from >= to {
            return Err(ApiError::BadRequest("`from` must be before `to`".into()));
        }
        Ok((from, to))
    }
}

/// `GET /api/v1/robots/{id}/telemetry?from&to`: samples, oldest first.
#[utoipa::path(get, path = "/api/v1/robots/{id}/telemetry", tag = "robots", params(("id" = i64, Path, description = "Robot id"), Range), responses((status = 200, description = "Samples", body = Object), (status = 404, description = "No such robot", body = crate::http::error::ErrorBody)))]
pub async fn telemetry(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    q: web::Query<Range>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (from, to, limit) = q.of(&state, id).await?;
    let items = state.store.robot_telemetry(id, from, to, limit).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

/// `GET /api/v1/robots/{id}/telemetry/aggregate?bucket&from&to`: min / avg / max of speed,
/// battery, temperature and load per bucket.
#[utoipa::path(get, path = "/api/v1/robots/{id}/telemetry/aggregate", tag = "robots", params(("id" = i64, Path, description = "Robot id"), Range), responses((status = 200, description = "Buckets", body = Object), (status = 404, description = "No such robot", body = crate::http::error::ErrorBody)))]
pub async fn aggregate(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    q: web::Query<Range>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (from, to, _) = q.of(&state, id).await?;
    let bucket = q.bucket.unwrap_or(60);
    if !(1..=86_400).contains(&bucket) {
        return Err(ApiError::BadRequest(
            "bucket must be 1 to 86400 seconds".into(),
        ));
    }
    let rows = state.store.robot_telemetry(id, from, to, 500_000).await?;
    let items = RobotTelemetryBucket::of(&rows, bucket * 1000);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "bucket_s": bucket, "items": items })))
}

/// `GET /api/v1/robots/{id}/safety-events?from&to`: newest first.
#[utoipa::path(get, path = "/api/v1/robots/{id}/safety-events", tag = "robots", params(("id" = i64, Path, description = "Robot id"), Range), responses((status = 200, description = "Safety events", body = Object), (status = 404, description = "No such robot", body = crate::http::error::ErrorBody)))]
pub async fn safety_events(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    q: web::Query<Range>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (from, to, limit) = q.of(&state, id).await?;
    let items = state.store.safety_events(Some(id), from, to, limit).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}
