use actix_web::{web, HttpResponse};
use urbanstream_schema::models::AlertView;

use crate::http::{ApiError, HttpState};

/// One alert.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts",
    params(("id" = String, Path, description = "Alert id (UUID)")),
    responses((status = 200, description = "The alert", body = AlertView),
        (status = 404, description = "No such alert", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match state.store.alert(&id).await? {
        Some(row) => Ok(HttpResponse::Ok().json(AlertView::from(row))),
        None => Err(ApiError::NotFound(format!("no alert {id}"))),
    }
}
