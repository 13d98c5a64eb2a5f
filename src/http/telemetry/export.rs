//! `GET /api/v1/telemetry/export?imei&from&to&format=csv|json|gpx`: streamed page by page
//! from the database, never the whole result in memory.

use actix_web::{web, HttpResponse};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt;
use urbanstream_schema::models::TelemetryRow;
use urbanstream_schema::store::Store;

use super::{resolve, Window};
use crate::http::{ApiError, HttpState};

/// Rows fetched per database round trip.
const PAGE: i64 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
    Gpx,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
            Self::Gpx => "application/gpx+xml",
        }
    }

    fn head(self, imei: &str) -> String {
        match self {
            Self::Csv => "device_time,lat,lon,altitude,speed_kmh,heading,satellites,fix,ignition,external_voltage_v,distance_m,late\n".into(),
            Self::Json => "[".into(),
            Self::Gpx => format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"urbanstream\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n<trk><name>{imei}</name><trkseg>\n"
            ),
        }
    }

    fn tail(self) -> &'static str {
        match self {
            Self::Csv => "",
            Self::Json => "]\n",
            Self::Gpx => "</trkseg></trk>\n</gpx>\n",
        }
    }

    fn row(self, r: &TelemetryRow, first: bool, out: &mut String) {
        let time = DateTime::<Utc>::from_timestamp_millis(r.device_time_ms)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default();
        let opt = |v: Option<String>| v.unwrap_or_default();
        match self {
            Self::Csv => out.push_str(&format!(
                "{time},{},{},{},{},{},{},{},{},{},{},{}\n",
                r.lat,
                r.lon,
                r.altitude,
                r.speed_kmh,
                r.heading,
                r.satellites,
                r.fix,
                opt(r.ignition.map(|b| b.to_string())),
                opt(r.external_voltage_v.map(|v| v.to_string())),
                r.distance_m,
                r.late
            )),
            Self::Json => {
                if !first {
                    out.push(',');
                }
                let v = super::row_json(r);
                out.push_str(&v.to_string());
            }
            Self::Gpx => {
                if r.fix {
                    out.push_str(&format!(
                        "<trkpt lat=\"{}\" lon=\"{}\"><ele>{}</ele><time>{time}</time></trkpt>\n",
                        r.lat, r.lon, r.altitude
                    ));
                }
            }
        }
    }
}

struct Cursor {
    store: Store,
    device_id: i64,
    next_from: i64,
    to_ms: i64,
    format: Format,
    first: bool,
    done: bool,
}

async fn next_chunk(mut c: Cursor) -> Option<(Result<Bytes, actix_web::Error>, Cursor)> {
    if c.done {
        return None;
    }
    match c
        .store
        .history(c.device_id, c.next_from, c.to_ms, PAGE)
        .await
    {
        Ok(rows) => {
            let mut out = String::with_capacity(rows.len() * 160);
            for r in &rows {
                c.format.row(r, c.first, &mut out);
                c.first = false;
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == PAGE => c.next_from = last.device_time_ms + 1,
                _ => {
                    out.push_str(c.format.tail());
                    c.done = true;
                }
            }
            Some((Ok(Bytes::from(out)), c))
        }
        Err(e) => {
            // The status is sent already: end the body early and log; the client sees a
            // truncated document rather than a silent success.
            tracing::error!("export stopped: {e}");
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

#[utoipa::path(get, path = "/api/v1/telemetry/export", tag = "telemetry", params(super::Window), responses((status = 200, description = "The records, streamed", content((String = "text/csv"), (String = "application/json"), (String = "application/gpx+xml"))), (status = 404, description = "Not registered", body = crate::http::error::ErrorBody)))]
pub async fn export(
    state: web::Data<HttpState>,
    q: web::Query<Window>,
) -> Result<HttpResponse, ApiError> {
    let format = match q.format.as_deref().unwrap_or("csv") {
        "csv" => Format::Csv,
        "json" => Format::Json,
        "gpx" => Format::Gpx,
        other => {
            return Err(ApiError::BadRequest(format!(
                "format must be csv, json or gpx, not `{other}`"
            )))
        }
    };
    if q.limit.is_some() || q.cursor.is_some() {
        return Err(ApiError::BadRequest(
            "export takes the whole window: no limit or cursor".into(),
        ));
    }
    let r = resolve(&state, &q).await?;
    let head = Bytes::from(format.head(&r.device.imei));
    let cursor = Cursor {
        store: state.store.clone(),
        device_id: r.device.id,
        next_from: r.from_ms,
        to_ms: r.to_ms,
        format,
        first: true,
        done: false,
    };
    let body = futures_util::stream::once(async move { Ok::<_, actix_web::Error>(head) })
        .chain(futures_util::stream::unfold(cursor, next_chunk));
    let ext = match format {
        Format::Csv => "csv",
        Format::Json => "json",
        Format::Gpx => "gpx",
    };
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}.{ext}\"", r.device.imei),
        ))
        .streaming(body))
}
