use actix_web::{web, HttpResponse};
use urbanstream_schema::models::RouteRow;

use crate::http::{ApiError, HttpState};

/// One route.
#[utoipa::path(get, path = "/api/v1/routes/{id}", tag = "transit",
    params(("id" = i64, Path, description = "Route id")),
    responses((status = 200, description = "The route", body = RouteRow),
        (status = 404, description = "No such route", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    match state.store.route(*id).await? {
        Some(r) => Ok(HttpResponse::Ok().json(r)),
        None => Err(ApiError::NotFound(format!("no route {id}"))),
    }
}
