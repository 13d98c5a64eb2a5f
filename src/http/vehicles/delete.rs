use actix_web::{web, HttpResponse};

use crate::http::{ApiError, HttpState};

/// `DELETE /api/v1/vehicles/{id}`: its devices stay registered, unassigned.
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if state.store.delete_vehicle(*id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("no vehicle {id}")))
    }
}
