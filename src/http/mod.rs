//! HTTP: one handler per file.

mod health;
mod metrics;

use actix_web::web;
use metrics_exporter_prometheus::PrometheusHandle;

/// What handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub prometheus: PrometheusHandle,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health))
        .route("/metrics", web::get().to(metrics::metrics));
}
