use actix_web::{web, HttpResponse};
use urbanstream_actors::registry::DeviceAssigned;

use crate::http::{ApiError, HttpState};

/// `DELETE /api/v1/vehicles/{id}`: its devices stay registered, unassigned.
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let riders = state.store.devices_of_vehicle(*id).await?;
    if state.store.delete_vehicle(*id).await? {
        for d in riders {
            if let Ok(imei) = d.imei.parse() {
                state.registry.do_send(DeviceAssigned {
                    imei,
                    vehicle_id: None,
                });
            }
        }
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("no vehicle {id}")))
    }
}
