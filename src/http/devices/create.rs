use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::registry::DeviceUpserted;
use urbanstream_schema::store::is_conflict;

use super::parse_imei;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeviceBody {
    imei: String,
    model: String,
    name: Option<String>,
}

/// `POST /api/v1/devices`: registers a tracker; it may log in from now on.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", request_body = NewDeviceBody, responses((status = 201, description = "Registered", body = urbanstream_schema::models::DeviceRow), (status = 409, description = "IMEI already registered", body = crate::http::error::ErrorBody)))]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<NewDeviceBody>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&body.imei)?;
    if body.model.trim().is_empty() {
        return Err(ApiError::BadRequest("model must not be empty".into()));
    }
    let row = state
        .store
        .create_device(&imei.to_string(), body.model.trim(), body.name.as_deref())
        .await
        .map_err(|e| {
            if is_conflict(&e) {
                ApiError::Conflict(format!("device {imei} exists"))
            } else {
                e.into()
            }
        })?;
    state.registry.do_send(DeviceUpserted {
        key: EntityKey::Tracker(imei),
        id: row.id,
        model: row.model.clone(),
    });
    Ok(HttpResponse::Created().json(row))
}
