use actix_web::{web, HttpResponse};
use urbanstream_schema::models::StopRow;

use super::{conflict, to_data, StopInput};
use crate::http::transit::reload;
use crate::http::{ApiError, HttpState};

/// Replaces a stop (moving it moves it on every route that calls there).
#[utoipa::path(put, path = "/api/v1/stops/{id}", tag = "transit", request_body = StopInput,
    params(("id" = i64, Path, description = "Stop id")),
    responses((status = 200, description = "The stored stop", body = StopRow),
        (status = 404, description = "No such stop", body = crate::http::error::ErrorBody),
        (status = 409, description = "Code taken", body = crate::http::error::ErrorBody)))]
pub async fn replace(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<StopInput>,
) -> Result<HttpResponse, ApiError> {
    let Some(row) = state
        .store
        .update_stop(*id, to_data(body.into_inner())?)
        .await
        .map_err(conflict)?
    else {
        return Err(ApiError::NotFound(format!("no stop {id}")));
    };
    reload(&state).await?;
    Ok(HttpResponse::Ok().json(row))
}
