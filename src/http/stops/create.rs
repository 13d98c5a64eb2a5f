use actix_web::{web, HttpResponse};
use urbanstream_schema::models::StopRow;

use super::{conflict, to_data, StopInput};
use crate::http::{ApiError, HttpState};

/// Creates a stop.
#[utoipa::path(post, path = "/api/v1/stops", tag = "transit", request_body = StopInput,
    responses((status = 201, description = "The stored stop", body = StopRow),
        (status = 409, description = "Code taken", body = crate::http::error::ErrorBody)))]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<StopInput>,
) -> Result<HttpResponse, ApiError> {
    let row = state
        .store
        .create_stop(to_data(body.into_inner())?)
        .await
        .map_err(conflict)?;
    Ok(HttpResponse::Created().json(row))
}
