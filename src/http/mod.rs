//! HTTP: one handler per file.

mod devices;
mod error;
mod health;
mod metrics;
mod ws;

use actix::Addr;
use actix_web::web;
use metrics_exporter_prometheus::PrometheusHandle;
use urbanstream_actors::hub::HubActor;
use urbanstream_actors::registry::DeviceRegistryActor;
use urbanstream_schema::store::Store;

pub use error::ApiError;

/// Largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// What handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub prometheus: PrometheusHandle,
    pub store: Store,
    pub hub: Addr<HubActor>,
    pub registry: Addr<DeviceRegistryActor>,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_JSON_BYTES)
            .error_handler(error::json_error),
    )
    .app_data(web::QueryConfig::default().error_handler(error::query_error))
    .app_data(web::PathConfig::default().error_handler(error::path_error))
    .route("/health", web::get().to(health::health))
    .route("/ready", web::get().to(health::ready))
    .route("/metrics", web::get().to(metrics::metrics))
    .route("/ws", web::get().to(ws::ws))
    .service(
        web::scope("/api/v1")
            .route("/devices", web::get().to(devices::list::list))
            .route(
                "/devices/{imei}/latest",
                web::get().to(devices::latest::latest),
            )
            .route(
                "/devices/{imei}/history",
                web::get().to(devices::history::history),
            )
            .default_service(web::to(error::not_found)),
    );
}
