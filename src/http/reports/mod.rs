//! `/api/v1/reports/{trips|stops|summary|route|events}`: tables over a time window, as
//! JSON (`{"columns", "items", "truncated"}`) or CSV (`format=csv`); at most `MAX_ROWS` rows,
//! with `X-Result-Truncated: true` when there were more.

pub mod events;
pub mod route;
pub mod stops;
pub mod summary;
pub mod trips;

use std::collections::HashMap;
use std::fmt::Write;

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::Value;
use urbanstream_schema::store::Window;

use super::devices::parse_imei;
use super::{ApiError, HttpState};

/// Longest window a report covers.
const MAX_WINDOW_MS: i64 = 93 * 86_400_000;
/// Most rows a report returns.
pub const MAX_ROWS: i64 = 100_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Only this vehicle's trackers.
    vehicle: Option<i64>,
    /// Only this tracker.
    imei: Option<String>,
    /// Window start, ms since the epoch or RFC 3339 (inclusive).
    #[param(value_type = i64)]
    from: Millis,
    /// Window end, ms since the epoch or RFC 3339 (exclusive); at most 93 days after `from`.
    #[param(value_type = i64)]
    to: Millis,
    /// `json` (default) or `csv`.
    format: Option<String>,
    /// Only events of this kind (events report).
    kind: Option<String>,
    /// The route (route report).
    route: Option<i64>,
}

/// A time in a query: milliseconds since the epoch (`1764547200000`) or RFC 3339
/// (`2025-12-01T00:00:00Z`), as the other time parameters of the API take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub i64);

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Millis;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("milliseconds since the epoch or an RFC 3339 time")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Millis, E> {
                Ok(Millis(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Millis, E> {
                i64::try_from(v)
                    .map(Millis)
                    .map_err(|e| E::custom(format!("time out of range: {e}")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Millis, E> {
                if let Ok(ms) = v.parse::<i64>() {
                    return Ok(Millis(ms));
                }
                chrono::DateTime::parse_from_rfc3339(v)
                    .map(|t| Millis(t.timestamp_millis()))
                    .map_err(|e| {
                        E::custom(format!(
                            "`{v}` is neither milliseconds since the epoch nor an RFC 3339 time ({e})"
                        ))
                    })
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `from < to`, at most 93 days apart (extreme values included).
pub(crate) fn check_window(from: i64, to: i64) -> Result<(), ApiError> {
    if to <= from || to.saturating_sub(from) > MAX_WINDOW_MS {
        return Err(ApiError::BadRequest(
            "need from < to, at most 93 days apart".into(),
        ));
    }
    Ok(())
}

/// Who a device is, for report rows.
pub(crate) struct Who {
    pub imei: String,
    pub vehicle_id: Option<i64>,
}

impl ReportQuery {
    /// The window and its devices (`None`: all), checked.
    pub(crate) async fn window(&self, state: &HttpState) -> Result<Window, ApiError> {
        check_window(self.from.0, self.to.0)?;
        let devices = match (self.vehicle, &self.imei) {
            (Some(_), Some(_)) => {
                return Err(ApiError::BadRequest(
                    "give vehicle or imei, not both".into(),
                ))
            }
            (Some(v), None) => {
                if state.store.vehicle(v).await?.is_none() {
                    return Err(ApiError::NotFound(format!("no vehicle {v}")));
                }
                Some(
                    state
                        .store
                        .devices_of_vehicle(v)
                        .await?
                        .iter()
                        .map(|d| d.id)
                        .collect(),
                )
            }
            (None, Some(i)) => {
                let imei = parse_imei(i)?;
                match state.store.device(&imei.to_string()).await? {
                    Some(d) => Some(vec![d.id]),
                    None => {
                        return Err(ApiError::NotFound(format!(
                            "device {imei} is not registered"
                        )))
                    }
                }
            }
            (None, None) => None,
        };
        Ok(Window {
            devices,
            vehicle: self.vehicle,
            from_ms: self.from.0,
            to_ms: self.to.0,
        })
    }

    /// What every report starts from: CSV or not, the window, and who the devices are.
    pub(crate) async fn prepare(
        &self,
        state: &HttpState,
    ) -> Result<(bool, Window, HashMap<i64, Who>), ApiError> {
        let csv = self.csv()?;
        let w = self.window(state).await?;
        Ok((csv, w, devices(state).await?))
    }

    pub(crate) fn csv(&self) -> Result<bool, ApiError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(other) => Err(ApiError::BadRequest(format!(
                "format must be json or csv, not `{other}`"
            ))),
        }
    }
}

/// Every device by id.
pub(crate) async fn devices(state: &HttpState) -> Result<HashMap<i64, Who>, ApiError> {
    Ok(state
        .store
        .devices()
        .await?
        .into_iter()
        .map(|d| {
            (
                d.id,
                Who {
                    imei: d.imei,
                    vehicle_id: d.vehicle_id,
                },
            )
        })
        .collect())
}

/// A report's rows; rendered as JSON objects or CSV lines.
pub(crate) struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub rows: Vec<Vec<Value>>,
    /// The row cap (`MAX_ROWS`) was reached: narrow the window for the rest.
    pub truncated: bool,
}

impl Table {
    pub fn respond(self, csv: bool) -> HttpResponse {
        if csv {
            let mut out = String::with_capacity(64 + self.rows.len() * 16 * self.columns.len());
            out.push_str(&self.columns.join(","));
            out.push_str("\r\n");
            for row in &self.rows {
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    csv_cell(&mut out, v);
                }
                out.push_str("\r\n");
            }
            return HttpResponse::Ok()
                .insert_header(("X-Result-Truncated", self.truncated.to_string()))
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    "Content-Disposition",
                    format!("attachment; filename=\"{}.csv\"", self.name),
                ))
                .body(out);
        }
        let items: Vec<serde_json::Map<String, Value>> = self
            .rows
            .into_iter()
            .map(|r| {
                self.columns
                    .iter()
                    .map(|c| (*c).to_owned())
                    .zip(r)
                    .collect()
            })
            .collect();
        HttpResponse::Ok()
            .insert_header(("X-Result-Truncated", self.truncated.to_string()))
            .json(serde_json::json!({ "columns": self.columns, "items": items, "truncated": self.truncated }))
    }
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
fn csv_cell(out: &mut String, v: &Value) {
    let text = match v {
        Value::Null => return,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        let _ = write!(out, "\"{}\"", text.replace('"', "\"\""));
    } else {
        out.push_str(&text);
    }
}

/// Milliseconds as RFC 3339, for readers of CSV.
pub(crate) fn time(ms: i64) -> Value {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms).map_or(Value::Null, |t| {
        Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    })
}

/// Rounds to `places` decimals.
pub(crate) fn round(v: f64, places: i32) -> Value {
    let k = 10f64.powi(places);
    serde_json::json!((v * k).round() / k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_when_needed() {
        let mut s = String::new();
        for v in [
            serde_json::json!("plain"),
            serde_json::json!("a,b"),
            serde_json::json!("say \"hi\""),
            Value::Null,
            serde_json::json!(1.5),
        ] {
            csv_cell(&mut s, &v);
            s.push('|');
        }
        assert_eq!(s, "plain|\"a,b\"|\"say \"\"hi\"\"\"||1.5|");
    }
}
