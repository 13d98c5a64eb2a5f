use actix_web::{web, HttpResponse};

use super::HttpState;

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"), (status = 401, description = "auth.metrics_token is set and was not sent", body = crate::http::error::ErrorBody)), security((), ("metrics_token" = [])))]
pub async fn metrics(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.prometheus.render())
}
