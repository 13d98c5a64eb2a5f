use actix_web::{web, HttpResponse};
use serde_json::json;

use super::HttpState;

/// Liveness: the process serves HTTP.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Readiness: the database answers.
pub async fn ready(state: web::Data<HttpState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => {
            HttpResponse::Ok().json(json!({ "status": "ready", "database": state.store.backend() }))
        }
        Err(e) => {
            tracing::warn!("not ready: {e}");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "unavailable", "database": state.store.backend(), "error": e.kind() }))
        }
    }
}
