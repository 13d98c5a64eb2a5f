//! `GET /api/v1/detections/export`: the whole window, streamed page by page from the
//! database, never the whole result in memory.

use actix_web::{web, HttpResponse};
use bytes::Bytes;
use urbanstream_schema::store::{DetectionFilter, Store};

use super::{detection_json, DetectionQuery};
use crate::http::{ApiError, HttpState};

/// Rows fetched per database round trip.
const PAGE: i64 = 5_000;

struct Cursor {
    store: Store,
    filter: DetectionFilter,
    csv: bool,
    first: bool,
    done: bool,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

async fn next_chunk(mut c: Cursor) -> Option<(Result<Bytes, actix_web::Error>, Cursor)> {
    if c.done {
        return None;
    }
    match c.store.detections(c.filter.clone()).await {
        Ok(rows) => {
            let mut out = String::with_capacity(rows.len() * 200);
            for r in &rows {
                if c.csv {
                    let time = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(r.time_ms)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "{time},{},{},{},{},{},{},{},{},{},{},{}\n",
                        csv_field(&r.node_id),
                        r.seq,
                        csv_field(&r.stream_id),
                        csv_field(&r.object_type),
                        r.confidence,
                        r.bbox_x,
                        r.bbox_y,
                        r.bbox_width,
                        r.bbox_height,
                        r.bbox_normalized,
                        csv_field(r.location.as_deref().unwrap_or_default()),
                    ));
                } else {
                    if !c.first {
                        out.push(',');
                    }
                    out.push_str(&detection_json(r).to_string());
                }
                c.first = false;
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == PAGE => {
                    c.filter.after = Some((
                        last.time_ms,
                        last.node_id.clone(),
                        last.boot,
                        last.seq,
                        last.idx,
                    ));
                }
                _ => {
                    if !c.csv {
                        out.push_str("]\n");
                    }
                    c.done = true;
                }
            }
            Some((Ok(Bytes::from(out)), c))
        }
        Err(e) => {
            tracing::error!("detections export stopped: {e}");
            c.done = true;
            Some((
                Err(actix_web::error::ErrorInternalServerError(
                    "export interrupted",
                )),
                c,
            ))
        }
    }
}

/// `GET /api/v1/detections/export?…&format=csv|json`.
#[utoipa::path(get, path = "/api/v1/detections/export", tag = "edge", params(DetectionQuery), responses((status = 200, description = "The detections, streamed", content((String = "text/csv"), (String = "application/json")))))]
pub async fn export(
    state: web::Data<HttpState>,
    q: web::Query<DetectionQuery>,
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
    if q.limit.is_some() || q.cursor.is_some() {
        return Err(ApiError::BadRequest(
            "export takes the whole window: no limit or cursor".into(),
        ));
    }
    let filter = q.filter(PAGE)?;
    let cursor = Cursor {
        store: state.store.clone(),
        filter,
        csv,
        first: true,
        done: false,
    };
    Ok(crate::http::page::streamed_export(
        csv,
        "timestamp,node_id,seq,stream_id,object_type,confidence,bbox_x,bbox_y,bbox_width,bbox_height,bbox_normalized,location\n",
        futures_util::stream::unfold(cursor, next_chunk),
        "detections",
    ))
}
