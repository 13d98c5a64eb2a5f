use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_schema::models::AlertView;
use urbanstream_schema::store::{AlertFilter, ACTIVE_ACK, ACTIVE_UNACK, CLEARED};

use super::AlertPage;
use crate::http::devices::parse_imei;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// ACTIVE_UNACK, ACTIVE_ACK or CLEARED.
    status: Option<String>,
    /// `true`: only alerts not cleared.
    open: Option<bool>,
    /// CRITICAL, WARNING or INFO.
    severity: Option<String>,
    /// A rule kind, e.g. OVERSPEED.
    kind: Option<String>,
    /// Only this device's alerts.
    imei: Option<String>,
    /// Only this vehicle's alerts.
    vehicle_id: Option<i64>,
    /// Raised at or after this time (ms since the epoch).
    from: Option<i64>,
    /// Raised before this time (ms since the epoch).
    to: Option<i64>,
    /// 1..=1000, default 100.
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

const STATUSES: [&str; 3] = [ACTIVE_UNACK, ACTIVE_ACK, CLEARED];
const SEVERITIES: [&str; 3] = ["CRITICAL", "WARNING", "INFO"];

/// Alerts, newest first, by status, severity, kind, device, vehicle and time.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertQuery),
    responses((status = 200, description = "A page of alerts", body = AlertPage),
        (status = 404, description = "The device named by `imei` is not registered", body = crate::http::error::ErrorBody)))]
pub async fn list(
    state: web::Data<HttpState>,
    q: web::Query<AlertQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let limit = crate::http::page::limit(q.limit)?;
    let one_of = |field: &str, v: &Option<String>, allowed: &[&str]| match v {
        Some(s) if !allowed.contains(&s.as_str()) => Err(ApiError::BadRequest(format!(
            "{field} must be one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    };
    one_of("status", &q.status, &STATUSES)?;
    one_of("severity", &q.severity, &SEVERITIES)?;
    let kinds: Vec<&str> = urbanstream_actors::rules::Condition::kinds().collect();
    one_of("kind", &q.kind, &kinds)?;
    let before = match &q.cursor {
        None => None,
        Some(c) => Some(
            c.split_once(':')
                .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| ApiError::BadRequest("cursor: not one this API gave".into()))?,
        ),
    };
    let device_id = match &q.imei {
        None => None,
        Some(i) => {
            let imei = parse_imei(i)?;
            match state.store.device(&imei.to_string()).await? {
                Some(d) => Some(d.id),
                None => {
                    return Err(ApiError::NotFound(format!(
                        "device {imei} is not registered"
                    )))
                }
            }
        }
    };
    let rows = state
        .store
        .alerts(AlertFilter {
            status: q.status,
            open: q.open.unwrap_or(false),
            severity: q.severity,
            kind: q.kind,
            device_id,
            vehicle_id: q.vehicle_id,
            from_ms: q.from,
            to_ms: q.to,
            before,
            limit,
        })
        .await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| format!("{}:{}", r.raised_ms, r.id)))
        .flatten();
    Ok(HttpResponse::Ok().json(AlertPage {
        items: rows.into_iter().map(AlertView::from).collect(),
        next_cursor,
    }))
}
