//! HTTP: one handler per file.

pub mod access;
pub(crate) mod alert_rules;
mod alerts;
mod analytics;
mod api_keys;
mod audit;
mod auth;
pub(crate) mod buses;
mod cameras;
mod config;
pub mod dashboard;
mod detections;
mod devices;
mod environments;
mod error;
mod fleet;
mod geofences;
mod health;
mod metrics;
pub(crate) mod nodes;
mod notifications;
pub mod openapi;
mod page;
mod people_analytics;
mod persons;
pub(crate) mod reports;
mod robots;
mod routes;
mod sessions;
mod stops;
pub mod system;
mod telemetry;
pub(crate) mod transit;
mod users;
mod vehicles;
mod ws;
mod zones;

use actix::Addr;
use actix_web::web;
use metrics_exporter_prometheus::PrometheusHandle;
use urbanstream_actors::hub::HubActor;
use urbanstream_actors::redis_bridge::RedisBridgeActor;
use urbanstream_actors::registry::DeviceRegistryActor;
use urbanstream_schema::store::Store;

use access::{
    Access, RouteSpec, Verb, ADMIN, DISPATCH, EVERYONE, HISTORY, OPERATE, PEOPLE, STOP, WATCH,
};
pub use error::ApiError;

/// Largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// What handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub prometheus: PrometheusHandle,
    /// The WebSocket clients' limits (`[ws]`).
    pub ws: crate::config::WsSettings,
    pub store: Store,
    pub hub: Addr<HubActor>,
    pub registry: Addr<DeviceRegistryActor>,
    /// Present when `redis.url` is set.
    pub redis: Option<Addr<RedisBridgeActor>>,
    pub auth: std::sync::Arc<crate::auth::AuthService>,
    /// The running entities' published snapshots, for reads that need no message.
    pub directory: urbanstream_actors::registry::Directory,
    /// The geofence index the vehicles check; replaced when fences change.
    pub fences: urbanstream_actors::geo::SharedFences,
    /// This node's rule engine: told of rule changes and alerts users cleared.
    pub engine: Addr<urbanstream_actors::rules::RuleEngineActor>,
    pub commands: Addr<urbanstream_actors::commands::CommandDispatcherActor>,
    /// Routes, stops and assignments the vehicles follow.
    pub routes: urbanstream_actors::transit::SharedRoutes,
    /// ETA models per route, learned from recent arrivals, kept for a minute.
    pub eta: std::sync::Arc<transit::EtaCache>,
    /// Edge nodes: offline threshold, system metrics, the MQTT broker's state.
    pub edge: system::EdgeState,
    /// The Modbus buses' manager (robots), unless `modbus.enabled` is off.
    pub modbus: Option<Addr<urbanstream_actors::modbus::ModbusManagerActor>>,
    /// The register maps robots may name.
    pub robot_maps: Vec<String>,
    /// The configured cameras (`[cameras]`); empty when none.
    pub cameras: Vec<crate::tracking::CameraHandle>,
    /// Tracking sessions of the site (`None` when no camera is configured).
    pub sessions: Option<crate::tracking::Sessions>,
    /// The site the cameras watch.
    pub environment: crate::config::EnvironmentEntry,
    /// What `PATCH /api/v1/config` changes while running.
    pub tuning: std::sync::Arc<Tuning>,
}

/// Settings that change at run time: the current values, and the robots' channel to them.
pub struct Tuning {
    pub modbus: tokio::sync::watch::Sender<urbanstream_actors::modbus::ModbusSettings>,
    pub robots: tokio::sync::watch::Sender<urbanstream_actors::robot::RobotTuning>,
}

/// The route table: every route, its handler and who may call it. Routes are registered
/// from it, the access middleware enforces it, and tests check it against the OpenAPI
/// document, so a route cannot be served without an access entry.
macro_rules! route_table {
    ($( $verb:ident $path:literal $access:expr => $handler:path; )*) => {
        pub const ROUTES: &[RouteSpec] = &[
            $( RouteSpec { verb: Verb::$verb, path: $path, access: $access }, )*
        ];

        fn register(cfg: &mut web::ServiceConfig) {
            let routes: Vec<(&'static str, actix_web::Route)> = vec![
                $( ($path, web::route().method(Verb::$verb.method()).to($handler)), )*
            ];
            register_grouped(cfg, routes);
        }
    };
}

route_table! {
    Get "/health" Access::Public => health::health;
    Get "/ready" Access::Public => health::ready;
    Get "/metrics" Access::Metrics => metrics::metrics;
    Get "/ws" Access::Handler => ws::ws;
    Get "/api/docs" Access::Public => openapi::docs_redirect;
    Post "/api/v1/auth/login" Access::Public => auth::login::login;
    Post "/api/v1/auth/refresh" Access::Public => auth::refresh::refresh;
    Post "/api/v1/auth/logout" Access::Roles(EVERYONE) => auth::logout::logout;
    Get "/api/v1/auth/me" Access::Roles(EVERYONE) => auth::me::me;
    Get "/api/v1/users" Access::Roles(ADMIN) => users::list::list;
    Post "/api/v1/users" Access::Roles(ADMIN) => users::create::create;
    Patch "/api/v1/users/{id}" Access::Roles(ADMIN) => users::update::update;
    Get "/api/v1/api-keys" Access::Roles(ADMIN) => api_keys::list::list;
    Post "/api/v1/api-keys" Access::Roles(ADMIN) => api_keys::create::create;
    Delete "/api/v1/api-keys/{id}" Access::Roles(ADMIN) => api_keys::revoke::revoke;
    Get "/api/v1/audit" Access::Roles(ADMIN) => audit::list::list;
    Get "/api/v1/devices" Access::Roles(EVERYONE) => devices::list::list;
    Post "/api/v1/devices" Access::Roles(ADMIN) => devices::create::create;
    Get "/api/v1/devices/{imei}" Access::Roles(EVERYONE) => devices::get::get;
    Put "/api/v1/devices/{imei}" Access::Roles(ADMIN) => devices::replace::replace;
    Patch "/api/v1/devices/{imei}" Access::Roles(ADMIN) => devices::update::update;
    Delete "/api/v1/devices/{imei}" Access::Roles(ADMIN) => devices::delete::delete;
    Get "/api/v1/devices/{imei}/latest" Access::Roles(EVERYONE) => devices::latest::latest;
    Get "/api/v1/devices/{imei}/history" Access::Roles(HISTORY) => devices::history::history;
    Post "/api/v1/devices/{imei}/commands" Access::Roles(DISPATCH) => devices::send_command::send_command;
    Get "/api/v1/devices/{imei}/commands" Access::Roles(DISPATCH) => devices::commands::commands;
    Get "/api/v1/devices/{imei}/commands/{id}" Access::Roles(DISPATCH) => devices::command::command;
    Get "/api/v1/vehicles" Access::Roles(EVERYONE) => vehicles::list::list;
    Post "/api/v1/vehicles" Access::Roles(ADMIN) => vehicles::create::create;
    Get "/api/v1/vehicles/{id}" Access::Roles(EVERYONE) => vehicles::get::get;
    Put "/api/v1/vehicles/{id}" Access::Roles(ADMIN) => vehicles::replace::replace;
    Patch "/api/v1/vehicles/{id}" Access::Roles(ADMIN) => vehicles::update::update;
    Delete "/api/v1/vehicles/{id}" Access::Roles(ADMIN) => vehicles::delete::delete;
    Get "/api/v1/vehicles/{id}/location" Access::Roles(EVERYONE) => vehicles::location::location;
    Post "/api/v1/vehicles/{id}/assign-device" Access::Roles(ADMIN) => vehicles::assign_device::assign_device;
    Get "/api/v1/telemetry/history" Access::Roles(HISTORY) => telemetry::history::history;
    Get "/api/v1/telemetry/export" Access::Roles(HISTORY) => telemetry::export::export;
    Get "/api/v1/fleet/summary" Access::Roles(EVERYONE) => fleet::summary::summary;
    Get "/api/v1/fleet/nearby" Access::Roles(EVERYONE) => fleet::nearby::nearby;
    Get "/api/v1/geofences" Access::Roles(EVERYONE) => geofences::list::list;
    Post "/api/v1/geofences" Access::Roles(ADMIN) => geofences::create::create;
    Get "/api/v1/geofences/{id}" Access::Roles(EVERYONE) => geofences::get::get;
    Put "/api/v1/geofences/{id}" Access::Roles(ADMIN) => geofences::replace::replace;
    Delete "/api/v1/geofences/{id}" Access::Roles(ADMIN) => geofences::delete::delete;
    Get "/api/v1/alerts/rules" Access::Roles(WATCH) => alert_rules::list::list;
    Post "/api/v1/alerts/rules" Access::Roles(ADMIN) => alert_rules::create::create;
    Get "/api/v1/alerts/rules/{id}" Access::Roles(WATCH) => alert_rules::get::get;
    Put "/api/v1/alerts/rules/{id}" Access::Roles(ADMIN) => alert_rules::replace::replace;
    Delete "/api/v1/alerts/rules/{id}" Access::Roles(ADMIN) => alert_rules::delete::delete;
    Get "/api/v1/alerts" Access::Roles(WATCH) => alerts::list::list;
    Get "/api/v1/alerts/{id}" Access::Roles(WATCH) => alerts::get::get;
    Post "/api/v1/alerts/{id}/acknowledge" Access::Roles(DISPATCH) => alerts::acknowledge::acknowledge;
    Post "/api/v1/alerts/{id}/clear" Access::Roles(DISPATCH) => alerts::clear::clear;
    Get "/api/v1/notifications/channels" Access::Roles(ADMIN) => notifications::list::list;
    Post "/api/v1/notifications/channels" Access::Roles(ADMIN) => notifications::create::create;
    Put "/api/v1/notifications/channels/{id}" Access::Roles(ADMIN) => notifications::replace::replace;
    Delete "/api/v1/notifications/channels/{id}" Access::Roles(ADMIN) => notifications::delete::delete;
    Get "/api/v1/notifications/dead-letters" Access::Roles(ADMIN) => notifications::dead_letters::dead_letters;
    Get "/api/v1/routes" Access::Roles(EVERYONE) => routes::list::list;
    Post "/api/v1/routes" Access::Roles(ADMIN) => routes::create::create;
    Get "/api/v1/routes/{id}" Access::Roles(EVERYONE) => routes::get::get;
    Put "/api/v1/routes/{id}" Access::Roles(ADMIN) => routes::replace::replace;
    Delete "/api/v1/routes/{id}" Access::Roles(ADMIN) => routes::delete::delete;
    Get "/api/v1/routes/{id}/stops" Access::Roles(EVERYONE) => routes::stops::stops;
    Put "/api/v1/routes/{id}/stops" Access::Roles(ADMIN) => routes::set_stops::set_stops;
    Get "/api/v1/routes/{id}/schedules" Access::Roles(EVERYONE) => routes::schedules::schedules;
    Put "/api/v1/routes/{id}/schedules" Access::Roles(ADMIN) => routes::set_schedules::set_schedules;
    Get "/api/v1/routes/{id}/vehicles" Access::Roles(EVERYONE) => routes::vehicles::vehicles;
    Post "/api/v1/routes/{id}/vehicles" Access::Roles(DISPATCH) => routes::assign::assign;
    Delete "/api/v1/routes/{id}/vehicles/{vehicle_id}" Access::Roles(DISPATCH) => routes::unassign::unassign;
    Get "/api/v1/stops" Access::Roles(EVERYONE) => stops::list::list;
    Post "/api/v1/stops" Access::Roles(ADMIN) => stops::create::create;
    Get "/api/v1/stops/{id}" Access::Roles(EVERYONE) => stops::get::get;
    Put "/api/v1/stops/{id}" Access::Roles(ADMIN) => stops::replace::replace;
    Delete "/api/v1/stops/{id}" Access::Roles(ADMIN) => stops::delete::delete;
    Get "/api/v1/stops/{id}/arrivals" Access::Roles(EVERYONE) => stops::arrivals::arrivals;
    Get "/api/v1/reports/trips" Access::Roles(HISTORY) => reports::trips::trips;
    Get "/api/v1/reports/stops" Access::Roles(HISTORY) => reports::stops::stops;
    Get "/api/v1/reports/summary" Access::Roles(HISTORY) => reports::summary::summary;
    Get "/api/v1/reports/route" Access::Roles(HISTORY) => reports::route::route;
    Get "/api/v1/reports/events" Access::Roles(HISTORY) => reports::events::events;
    Get "/api/v1/analytics/fleet-summary" Access::Roles(HISTORY) => analytics::fleet_summary::fleet_summary;
    Get "/api/v1/analytics/vehicle/{id}/stats" Access::Roles(HISTORY) => analytics::vehicle_stats::vehicle_stats;
    Get "/api/v1/analytics/fuel-consumption" Access::Roles(HISTORY) => analytics::fuel_consumption::fuel_consumption;
    Get "/api/v1/analytics/route-performance" Access::Roles(HISTORY) => analytics::route_performance::route_performance;
    Get "/api/v1/config" Access::Roles(ADMIN) => config::get;
    Patch "/api/v1/config" Access::Roles(ADMIN) => config::update;
    Get "/api/v1/modbus/buses" Access::Roles(EVERYONE) => buses::crud::list;
    Post "/api/v1/modbus/buses" Access::Roles(OPERATE) => buses::crud::create;
    Get "/api/v1/modbus/buses/{id}" Access::Roles(EVERYONE) => buses::crud::get;
    Put "/api/v1/modbus/buses/{id}" Access::Roles(OPERATE) => buses::crud::replace;
    Delete "/api/v1/modbus/buses/{id}" Access::Roles(OPERATE) => buses::crud::delete;
    Post "/api/v1/modbus/buses/{id}/discover" Access::Roles(OPERATE) => buses::discover::discover;
    Post "/api/v1/robots/estop" Access::Roles(STOP) => robots::estop::estop_all;
    Get "/api/v1/robots" Access::Roles(EVERYONE) => robots::crud::list;
    Post "/api/v1/robots" Access::Roles(OPERATE) => robots::crud::create;
    Get "/api/v1/robots/{id}" Access::Roles(EVERYONE) => robots::crud::get;
    Patch "/api/v1/robots/{id}" Access::Roles(OPERATE) => robots::crud::update;
    Delete "/api/v1/robots/{id}" Access::Roles(OPERATE) => robots::crud::delete;
    Post "/api/v1/robots/{id}/commands" Access::Roles(OPERATE) => robots::commands::send;
    Get "/api/v1/robots/{id}/commands" Access::Roles(EVERYONE) => robots::commands::list;
    Get "/api/v1/robots/{id}/commands/{cid}" Access::Roles(EVERYONE) => robots::commands::get;
    Post "/api/v1/robots/{id}/estop" Access::Roles(STOP) => robots::estop::estop;
    Post "/api/v1/robots/{id}/reset" Access::Roles(OPERATE) => robots::estop::reset;
    Get "/api/v1/robots/{id}/telemetry" Access::Roles(EVERYONE) => robots::history::telemetry;
    Get "/api/v1/robots/{id}/telemetry/aggregate" Access::Roles(EVERYONE) => robots::history::aggregate;
    Get "/api/v1/robots/{id}/safety-events" Access::Roles(WATCH) => robots::history::safety_events;
    Get "/api/v1/cameras" Access::Roles(EVERYONE) => cameras::list::list;
    Get "/api/v1/cameras/{id}" Access::Roles(EVERYONE) => cameras::list::get;
    Post "/api/v1/cameras/{id}/start" Access::Roles(OPERATE) => cameras::control::start;
    Post "/api/v1/cameras/{id}/pause" Access::Roles(OPERATE) => cameras::control::pause;
    Post "/api/v1/cameras/{id}/resume" Access::Roles(OPERATE) => cameras::control::resume;
    Post "/api/v1/cameras/{id}/stop" Access::Roles(OPERATE) => cameras::control::stop;
    Get "/api/v1/environments" Access::Roles(EVERYONE) => environments::get::list;
    Get "/api/v1/environments/{id}" Access::Roles(EVERYONE) => environments::get::get;
    Get "/api/v1/environments/{id}/cameras" Access::Roles(EVERYONE) => environments::get::cameras;
    Get "/api/v1/environments/{id}/zones" Access::Roles(EVERYONE) => environments::get::zones;
    Get "/api/v1/zones" Access::Roles(EVERYONE) => zones::crud::list;
    Post "/api/v1/zones" Access::Roles(ADMIN) => zones::crud::create;
    Get "/api/v1/zones/{id}" Access::Roles(EVERYONE) => zones::crud::get;
    Put "/api/v1/zones/{id}" Access::Roles(ADMIN) => zones::crud::replace;
    Delete "/api/v1/zones/{id}" Access::Roles(ADMIN) => zones::crud::delete;
    Get "/api/v1/sessions" Access::Roles(PEOPLE) => sessions::get::list;
    Post "/api/v1/sessions" Access::Roles(OPERATE) => sessions::control::start;
    Get "/api/v1/sessions/{id}" Access::Roles(PEOPLE) => sessions::get::get;
    Delete "/api/v1/sessions/{id}" Access::Roles(OPERATE) => sessions::control::delete;
    Post "/api/v1/sessions/{id}/pause" Access::Roles(OPERATE) => sessions::control::pause;
    Post "/api/v1/sessions/{id}/resume" Access::Roles(OPERATE) => sessions::control::resume;
    Post "/api/v1/sessions/{id}/stop" Access::Roles(OPERATE) => sessions::control::stop;
    Get "/api/v1/tracking/active" Access::Roles(EVERYONE) => persons::active::active;
    Get "/api/v1/persons" Access::Roles(PEOPLE) => persons::search::search;
    Get "/api/v1/persons/{id}" Access::Roles(PEOPLE) => persons::get::get;
    Get "/api/v1/persons/{id}/trajectory" Access::Roles(PEOPLE) => persons::get::trajectory;
    Get "/api/v1/persons/{id}/journey" Access::Roles(PEOPLE) => persons::get::journey;
    Get "/api/v1/persons/{id}/similar" Access::Roles(PEOPLE) => persons::similar::similar;
    Get "/api/v1/analytics/detections" Access::Roles(PEOPLE) => people_analytics::detections::detections;
    Get "/api/v1/analytics/tracking" Access::Roles(PEOPLE) => people_analytics::tracking::tracking;
    Get "/api/v1/analytics/heatmap" Access::Roles(PEOPLE) => people_analytics::heatmap::heatmap;
    Get "/api/v1/analytics/occupancy" Access::Roles(PEOPLE) => people_analytics::occupancy::occupancy;
    Get "/api/v1/export/tracking" Access::Roles(PEOPLE) => people_analytics::export::tracking;
    Post "/api/v1/export/report" Access::Roles(PEOPLE) => people_analytics::export::report;
    Get "/api/v1/nodes" Access::Roles(EVERYONE) => nodes::list::list;
    Post "/api/v1/nodes" Access::Roles(OPERATE) => nodes::create::create;
    Post "/api/v1/nodes/register" Access::Roles(OPERATE) => nodes::register::register;
    Get "/api/v1/nodes/{id}" Access::Roles(EVERYONE) => nodes::get::get;
    Patch "/api/v1/nodes/{id}" Access::Roles(OPERATE) => nodes::update::update;
    Delete "/api/v1/nodes/{id}" Access::Roles(OPERATE) => nodes::delete::delete;
    Get "/api/v1/nodes/{id}/metrics" Access::Roles(EVERYONE) => nodes::metrics::metrics;
    Get "/api/v1/detections" Access::Roles(WATCH) => detections::list::list;
    Get "/api/v1/detections/export" Access::Roles(WATCH) => detections::export::export;
    Get "/api/v1/consensus/rounds" Access::Roles(WATCH) => system::consensus::rounds;
    Get "/api/v1/system/status" Access::Roles(EVERYONE) => system::status::status;
    Get "/api/v1/system/health" Access::Roles(EVERYONE) => system::health::health;
    Get "/api/v1/system/nodes/summary" Access::Roles(EVERYONE) => system::summary::summary;
    Get "/api/v1/system/logs" Access::Roles(WATCH) => system::logs::logs;
    Get "/api/v1/mqtt/dead-letters" Access::Roles(ADMIN) => system::dead_letters::dead_letters;
    Get "/api/v1/quarantine" Access::Roles(ADMIN) => system::quarantine::list;
}

/// Registers one resource per path holding all its methods, in table order.
fn register_grouped(cfg: &mut web::ServiceConfig, routes: Vec<(&'static str, actix_web::Route)>) {
    let mut resources: Vec<(&'static str, actix_web::Resource)> = Vec::new();
    for (path, route) in routes {
        match resources.iter().position(|(p, _)| *p == path) {
            Some(i) => {
                let (p, r) = resources.remove(i);
                resources.insert(i, (p, r.route(route)));
            }
            None => resources.push((path, web::resource(path).route(route))),
        }
    }
    for (_, resource) in resources {
        cfg.service(resource);
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_JSON_BYTES)
            .error_handler(error::json_error),
    )
    .app_data(web::QueryConfig::default().error_handler(error::query_error))
    .app_data(web::PathConfig::default().error_handler(error::path_error));
    register(cfg);
    cfg.service(openapi::swagger_ui())
        .service(web::scope("/api/v1").default_service(web::to(error::not_found)));
}

/// CORS for the configured origins (`http.cors_origins`); none: same origin only.
pub fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers(["authorization", "content-type", "x-api-key"])
        .expose_headers(["retry-after", "x-request-id"])
        .max_age(3600);
    for o in origins {
        cors = cors.allowed_origin(o);
    }
    cors
}

/// Headers on every response: no sniffing, no framing, no referrer, a strict CSP (scripts
/// from this origin only, never inline; images also from the dashboard's tile server when
/// one is configured).
pub fn security_headers(tile_origin: Option<&str>) -> actix_web::middleware::DefaultHeaders {
    let img = tile_origin.map_or_else(String::new, |o| format!(" {o}"));
    actix_web::middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Content-Security-Policy",
            format!(
                "default-src 'self'; script-src 'self'; img-src 'self' data: blob:{img}; style-src 'self' 'unsafe-inline'; \
                 connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
            ),
        ))
}

/// The request span of `tracing-actix-web`, with the route from the access table: the
/// default builder asks the router to match the path a second time, with regular
/// expressions, on every request.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        let route =
            access::resolve(request.method(), request.path()).map_or("unmatched", |(p, _)| p);
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = route,
            http.target = %request.path(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
