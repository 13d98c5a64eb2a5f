use actix_web::{web, HttpResponse};
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::registry::DeviceAssigned;

use crate::http::{ApiError, HttpState};

/// `DELETE /api/v1/vehicles/{id}`: its devices stay registered, unassigned.
#[utoipa::path(delete, path = "/api/v1/vehicles/{id}", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")), responses((status = 204, description = "Deleted; its devices stay, unassigned"), (status = 404, description = "No such vehicle", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let riders = state.store.devices_of_vehicle(*id).await?;
    if state.store.delete_vehicle(*id).await? {
        for d in riders {
            if let Ok(imei) = d.imei.parse() {
                state.registry.do_send(DeviceAssigned {
                    key: EntityKey::Tracker(imei),
                    vehicle_id: None,
                });
            }
        }
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("no vehicle {id}")))
    }
}
