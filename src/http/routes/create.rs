use actix_web::{web, HttpResponse};
use urbanstream_schema::models::RouteRow;

use super::{conflict, to_data, RouteInput};
use crate::http::{ApiError, HttpState};

/// Creates a route; give it stops with `PUT /routes/{id}/stops`.
#[utoipa::path(post, path = "/api/v1/routes", tag = "transit", request_body = RouteInput,
    responses((status = 201, description = "The stored route", body = RouteRow),
        (status = 409, description = "Number taken", body = crate::http::error::ErrorBody)))]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<RouteInput>,
) -> Result<HttpResponse, ApiError> {
    let row = state
        .store
        .create_route(to_data(body.into_inner())?)
        .await
        .map_err(conflict)?;
    Ok(HttpResponse::Created().json(row))
}
