use actix_web::{web, HttpResponse};

use super::RouteList;
use crate::http::{ApiError, HttpState};

/// Every route.
#[utoipa::path(get, path = "/api/v1/routes", tag = "transit",
    responses((status = 200, description = "The routes", body = RouteList)))]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(RouteList {
        items: state.store.routes().await?,
    }))
}
