use actix_web::{web, HttpResponse};
use urbanstream_schema::models::RouteRow;

use super::{conflict, to_data, RouteInput};
use crate::http::transit::reload;
use crate::http::{ApiError, HttpState};

/// Replaces a route's number, name, colour and whether it runs.
#[utoipa::path(put, path = "/api/v1/routes/{id}", tag = "transit", request_body = RouteInput,
    params(("id" = i64, Path, description = "Route id")),
    responses((status = 200, description = "The stored route", body = RouteRow),
        (status = 404, description = "No such route", body = crate::http::error::ErrorBody),
        (status = 409, description = "Number taken", body = crate::http::error::ErrorBody)))]
pub async fn replace(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<RouteInput>,
) -> Result<HttpResponse, ApiError> {
    let Some(row) = state
        .store
        .update_route(*id, to_data(body.into_inner())?)
        .await
        .map_err(conflict)?
    else {
        return Err(ApiError::NotFound(format!("no route {id}")));
    };
    reload(&state).await?;
    Ok(HttpResponse::Ok().json(row))
}
