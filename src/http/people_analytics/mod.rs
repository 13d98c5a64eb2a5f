//! People analytics (`/api/v1/analytics/{detections,tracking,heatmap,occupancy}`) over what
//! tracking sessions recorded, and their export (`/api/v1/export/tracking`,
//! `/api/v1/export/report`).

pub mod detections;
pub mod export;
pub mod heatmap;
pub mod occupancy;
pub mod tracking;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{ApiError, HttpState};

/// The window and scope of a people analytics request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeopleQuery {
    /// One session (default: every session in the window).
    pub session_id: Option<i64>,
    /// RFC 3339; default: the session's start, or 24 h before `end_time`.
    pub start_time: Option<DateTime<Utc>>,
    /// RFC 3339; default: the session's end, or now.
    pub end_time: Option<DateTime<Utc>>,
    /// One zone (occupancy).
    pub zone_id: Option<i64>,
    /// One camera (detections).
    pub camera_id: Option<u32>,
    /// Time bucket in seconds (detections, occupancy; default 60, at least 1).
    pub bucket_s: Option<i64>,
    /// Heatmap cell size in metres (default 0.5, 0.05 to 10).
    pub cell_m: Option<f64>,
    /// `csv` or `json` (export; default csv).
    pub format: Option<String>,
}

/// Most buckets a time series may have.
const MAX_BUCKETS: i64 = 10_000;

impl PeopleQuery {
    /// `[from_ms, to_ms]` of the request.
    async fn window(&self, state: &HttpState) -> Result<(i64, i64), ApiError> {
        let session = match self.session_id {
            Some(id) => Some(
                state
                    .store
                    .session(id)
                    .await?
                    .ok_or_else(|| ApiError::NotFound(format!("session {id} not found")))?,
            ),
            None => None,
        };
        let now = Utc::now().timestamp_millis();
        let to = self
            .end_time
            .map(|t| t.timestamp_millis())
            .or_else(|| session.as_ref().and_then(|s| s.ended_ms))
            .unwrap_or(now);
        let from = self
            .start_time
            .map(|t| t.timestamp_millis())
            .or_else(|| session.as_ref().map(|s| s.started_ms))
            .unwrap_or(to - 86_400_000);
        if from >= to {
            return Err(ApiError::BadRequest(
                "start_time must be before end_time".into(),
            ));
        }
        Ok((from, to))
    }

    fn bucket_ms(&self, from: i64, to: i64) -> Result<i64, ApiError> {
        let b = self.bucket_s.unwrap_or(60);
        if b < 1 {
            return Err(ApiError::BadRequest("bucket_s must be at least 1".into()));
        }
        let ms = b * 1000;
        if (to - from) / ms > MAX_BUCKETS {
            return Err(ApiError::BadRequest(format!(
                "more than {MAX_BUCKETS} buckets: widen bucket_s or narrow the window"
            )));
        }
        Ok(ms)
    }
}

fn iso(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}
