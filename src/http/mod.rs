//! HTTP: one handler per file.

mod devices;
mod error;
mod fleet;
mod health;
mod metrics;
mod page;
mod telemetry;
mod vehicles;
mod ws;

use actix::Addr;
use actix_web::web;
use metrics_exporter_prometheus::PrometheusHandle;
use urbanstream_actors::hub::HubActor;
use urbanstream_actors::redis_bridge::RedisBridgeActor;
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
    /// Present when `redis.url` is set.
    pub redis: Option<Addr<RedisBridgeActor>>,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, patch, post};
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_JSON_BYTES)
            .error_handler(error::json_error),
    )
    .app_data(web::QueryConfig::default().error_handler(error::query_error))
    .app_data(web::PathConfig::default().error_handler(error::path_error))
    .route("/health", get().to(health::health))
    .route("/ready", get().to(health::ready))
    .route("/metrics", get().to(metrics::metrics))
    .route("/ws", get().to(ws::ws))
    .service(
        web::scope("/api/v1")
            .route("/devices", get().to(devices::list::list))
            .route("/devices", post().to(devices::create::create))
            .route("/devices/{imei}", get().to(devices::get::get))
            .route("/devices/{imei}", patch().to(devices::update::update))
            .route("/devices/{imei}", delete().to(devices::delete::delete))
            .route("/devices/{imei}/latest", get().to(devices::latest::latest))
            .route(
                "/devices/{imei}/history",
                get().to(devices::history::history),
            )
            .route("/vehicles", get().to(vehicles::list::list))
            .route("/vehicles", post().to(vehicles::create::create))
            .route("/vehicles/{id}", get().to(vehicles::get::get))
            .route("/vehicles/{id}", patch().to(vehicles::update::update))
            .route("/vehicles/{id}", delete().to(vehicles::delete::delete))
            .route(
                "/vehicles/{id}/location",
                get().to(vehicles::location::location),
            )
            .route(
                "/vehicles/{id}/assign-device",
                post().to(vehicles::assign_device::assign_device),
            )
            .route("/telemetry/history", get().to(telemetry::history::history))
            .route("/telemetry/export", get().to(telemetry::export::export))
            .route("/fleet/summary", get().to(fleet::summary::summary))
            .route("/fleet/nearby", get().to(fleet::nearby::nearby))
            .default_service(web::to(error::not_found)),
    );
}
