use actix_web::{web, HttpResponse};

use super::StopList;
use crate::http::{ApiError, HttpState};

/// Every stop.
#[utoipa::path(get, path = "/api/v1/stops", tag = "transit",
    responses((status = 200, description = "The stops", body = StopList)))]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(StopList {
        items: state.store.stops().await?,
    }))
}
