use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::registry::DeviceAssigned;
use urbanstream_schema::VehicleId;

use crate::http::devices::parse_imei;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    imei: String,
}

/// `POST /api/v1/vehicles/{id}/assign-device` with `{"imei"}`: the tracker now rides in it.
#[utoipa::path(post, path = "/api/v1/vehicles/{id}/assign-device", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")), request_body = AssignBody, responses((status = 200, description = "The device, now in the vehicle", body = urbanstream_schema::models::DeviceRow), (status = 404, description = "No such vehicle or device", body = crate::http::error::ErrorBody)))]
pub async fn assign_device(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<AssignBody>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&body.imei)?;
    if state.store.vehicle(*id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no vehicle {id}")));
    }
    match state
        .store
        .assign_device(&imei.to_string(), Some(*id))
        .await?
    {
        Some(d) => {
            state.registry.do_send(DeviceAssigned {
                key: EntityKey::Tracker(imei),
                vehicle_id: Some(VehicleId(*id)),
            });
            Ok(HttpResponse::Ok().json(d))
        }
        None => Err(ApiError::NotFound(format!(
            "device {imei} is not registered"
        ))),
    }
}
