use actix_web::{web, HttpResponse};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use urbanstream_schema::store::Store;

use super::PeopleQuery;
use crate::http::{ApiError, HttpState};

/// Points fetched per database round trip.
const PAGE: i64 = 5_000;

struct Cursor {
    store: Store,
    session: i64,
    from_ms: i64,
    to_ms: i64,
    /// The last row sent: `(time, global id)`; rows up to it are skipped.
    after: Option<(i64, i64)>,
    csv: bool,
    first: bool,
    done: bool,
}

async fn next_chunk(mut c: Cursor) -> Option<(Result<Bytes, actix_web::Error>, Cursor)> {
    if c.done {
        return None;
    }
    let from = c.after.map_or(c.from_ms, |(t, _)| t);
    let rows = match c
        .store
        .trajectory(c.session, None, Some(from), Some(c.to_ms), PAGE)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!("trajectory export stopped: {e}");
            c.done = true;
            return Some((
                Err(actix_web::error::ErrorInternalServerError(
                    "export interrupted",
                )),
                c,
            ));
        }
    };
    let full = rows.len() as i64 == PAGE;
    let mut out = String::with_capacity(rows.len() * 64);
    let mut last = c.after;
    for r in rows
        .iter()
        .filter(|r| c.after.is_none_or(|a| (r.time_ms, r.global_id) > a))
    {
        let time = super::iso(r.time_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        if c.csv {
            out.push_str(&format!(
                "{time},{},{},{:.3},{:.3},{}\n",
                r.session_id, r.global_id, r.x_m, r.y_m, r.cameras
            ));
        } else {
            if !c.first {
                out.push(',');
            }
            out.push_str(
                &json!({"timestamp": time, "session_id": r.session_id, "global_id": r.global_id,
                        "x": r.x_m, "y": r.y_m, "cameras": r.cameras})
                .to_string(),
            );
        }
        c.first = false;
        last = Some((r.time_ms, r.global_id));
    }
    // A full page whose rows all share one instant cannot advance by time: step past it.
    if full && last == c.after {
        last = rows.last().map(|r| (r.time_ms, i64::MAX));
    }
    c.after = last;
    if !full {
        if !c.csv {
            out.push_str("]\n");
        }
        c.done = true;
    }
    Some((Ok(Bytes::from(out)), c))
}

/// `GET /api/v1/export/tracking?session_id=…&format=csv|json`: a session's trajectory points
/// (floor metres), streamed in time order.
#[utoipa::path(get, path = "/api/v1/export/tracking", tag = "cameras", params(PeopleQuery), responses((status = 200, description = "Trajectory points, streamed", content((String = "text/csv"), (String = "application/json"))), (status = 400, description = "No session_id or a bad format", body = crate::http::error::ErrorBody), (status = 404, description = "No such session", body = crate::http::error::ErrorBody)))]
pub async fn tracking(
    state: web::Data<HttpState>,
    q: web::Query<PeopleQuery>,
) -> Result<HttpResponse, ApiError> {
    let csv = match q.format.as_deref().unwrap_or("csv") {
        "csv" => true,
        "json" => false,
        other => {
            return Err(ApiError::BadRequest(format!(
                "format must be csv or json, not `{other}`"
            )))
        }
    };
    let session = q
        .session_id
        .ok_or_else(|| ApiError::BadRequest("session_id is required".into()))?;
    let (from, to) = q.window(&state).await?;
    let cursor = Cursor {
        store: state.store.clone(),
        session,
        from_ms: from,
        to_ms: to,
        after: None,
        csv,
        first: true,
        done: false,
    };
    Ok(crate::http::page::streamed_export(
        csv,
        "timestamp,session_id,global_id,x_m,y_m,cameras\n",
        futures_util::stream::unfold(cursor, next_chunk),
        &format!("session-{session}-trajectories"),
    ))
}

/// What a report covers.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    pub session_id: i64,
}

/// `POST /api/v1/export/report`: a session's report: the session, its tracking counts, and
/// each zone's visits, dwell and occupancy over the whole session.
#[utoipa::path(post, path = "/api/v1/export/report", tag = "cameras", request_body = ReportRequest, responses((status = 200, description = "The report", body = Object), (status = 404, description = "No such session", body = crate::http::error::ErrorBody)))]
pub async fn report(
    state: web::Data<HttpState>,
    body: web::Json<ReportRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = body.session_id;
    let session = state
        .store
        .session(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("session {id} not found")))?;
    let mut q = PeopleQuery {
        session_id: Some(id),
        start_time: None,
        end_time: None,
        zone_id: None,
        camera_id: None,
        bucket_s: None,
        cell_m: None,
        format: None,
    };
    let (from, to) = q.window(&state).await?;
    q.bucket_s = Some(((to - from + 999) / 1000).max(1));
    let tracking = super::tracking::compute(&state, &q).await?;
    let zones = super::occupancy::compute(&state, &q).await?;
    Ok(HttpResponse::Ok().json(json!({
        "generated_at": chrono::Utc::now(),
        "session": session,
        "tracking": tracking,
        "zones": zones["zones"],
    })))
}
