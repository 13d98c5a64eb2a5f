use actix_web::{web, HttpResponse};

use super::HttpState;

/// Prometheus text exposition.
pub async fn metrics(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.prometheus.render())
}
