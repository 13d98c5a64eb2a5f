use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::parse_imei;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Range {
    /// RFC 3339; default 24 h before `to`.
    from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive; default now.
    to: Option<DateTime<Utc>>,
    /// 1..=10000, default 1000.
    limit: Option<i64>,
}

/// `GET /api/v1/devices/{imei}/history?from&to&limit`: stored records, oldest first.
#[utoipa::path(get, path = "/api/v1/devices/{imei}/history", tag = "devices", params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits"), Range), responses((status = 200, description = "Stored records, oldest first", body = crate::http::telemetry::DeviceHistory), (status = 404, description = "Not registered", body = crate::http::error::ErrorBody)))]
pub async fn history(
    state: web::Data<HttpState>,
    imei: web::Path<String>,
    q: web::Query<Range>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&imei)?;
    let to = q.to.unwrap_or_else(Utc::now);
    let from = q.from.unwrap_or(to - chrono::Duration::hours(24));
    if from >= to {
        return Err(ApiError::BadRequest("`from` must be before `to`".into()));
    }
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1..=10000, got {limit}"
        )));
    }
    let imei_s = imei.to_string();
    let Some(device) = state
        .store
        .devices()
        .await?
        .into_iter()
        .find(|d| d.imei == imei_s)
    else {
        return Err(ApiError::NotFound(format!(
            "device {imei} is not registered"
        )));
    };
    let rows = state
        .store
        .history(
            device.id,
            from.timestamp_millis(),
            to.timestamp_millis(),
            limit,
        )
        .await?;
    let items: Vec<serde_json::Value> = rows.iter().map(crate::http::telemetry::row_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "imei": imei_s, "from": from, "to": to, "items": items })))
}
