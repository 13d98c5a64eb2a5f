//! The OpenAPI 3 document, generated from the handlers' annotations, served at
//! `/api/v1/openapi.json` and browsable at `/api/docs/` (Swagger UI, vendored).

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    alert_rules, alerts, analytics, api_keys, audit, auth, buses, cameras, config, detections,
    devices, environments, fleet, geofences, health, metrics, nodes, notifications,
    people_analytics, persons, reports, robots, routes, sessions, stops, system, telemetry, users,
    vehicles, ws, zones,
};

/// Bearer JWT, API key, and the metrics token.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Access token from /api/v1/auth/login, or an API key (usk_…)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "API key created by an admin under /api/v1/api-keys",
            ))),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("auth.metrics_token, when set"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "urbanstream",
        description = "Live telemetry, history and operations of a city's vehicles, cameras and robots. \
            Every route names the roles it admits; see each operation's description.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        health::health,
        health::ready,
        metrics::metrics,
        ws::ws,
        auth::login::login,
        auth::refresh::refresh,
        auth::logout::logout,
        auth::me::me,
        users::list::list,
        users::create::create,
        users::update::update,
        api_keys::list::list,
        api_keys::create::create,
        api_keys::revoke::revoke,
        audit::list::list,
        devices::list::list,
        devices::create::create,
        devices::get::get,
        devices::replace::replace,
        devices::update::update,
        devices::delete::delete,
        devices::latest::latest,
        devices::history::history,
        vehicles::list::list,
        vehicles::create::create,
        vehicles::get::get,
        vehicles::replace::replace,
        vehicles::update::update,
        vehicles::delete::delete,
        vehicles::location::location,
        vehicles::assign_device::assign_device,
        telemetry::history::history,
        telemetry::export::export,
        fleet::summary::summary,
        fleet::nearby::nearby,
        geofences::list::list,
        geofences::create::create,
        geofences::get::get,
        geofences::replace::replace,
        geofences::delete::delete,
        devices::send_command::send_command,
        devices::commands::commands,
        devices::command::command,
        alert_rules::list::list,
        alert_rules::create::create,
        alert_rules::get::get,
        alert_rules::replace::replace,
        alert_rules::delete::delete,
        alerts::list::list,
        alerts::get::get,
        alerts::acknowledge::acknowledge,
        alerts::clear::clear,
        notifications::list::list,
        notifications::create::create,
        notifications::replace::replace,
        notifications::delete::delete,
        notifications::dead_letters::dead_letters,
        routes::list::list,
        routes::create::create,
        routes::get::get,
        routes::replace::replace,
        routes::delete::delete,
        routes::stops::stops,
        routes::set_stops::set_stops,
        routes::schedules::schedules,
        routes::set_schedules::set_schedules,
        routes::vehicles::vehicles,
        routes::assign::assign,
        routes::unassign::unassign,
        stops::list::list,
        stops::create::create,
        stops::get::get,
        stops::replace::replace,
        stops::delete::delete,
        stops::arrivals::arrivals,
        reports::trips::trips,
        reports::stops::stops,
        reports::summary::summary,
        reports::route::route,
        reports::events::events,
        analytics::fleet_summary::fleet_summary,
        analytics::vehicle_stats::vehicle_stats,
        analytics::fuel_consumption::fuel_consumption,
        analytics::route_performance::route_performance,
        config::get,
        config::update,
        buses::crud::list,
        buses::crud::create,
        buses::crud::get,
        buses::crud::replace,
        buses::crud::delete,
        buses::discover::discover,
        robots::estop::estop_all,
        robots::crud::list,
        robots::crud::create,
        robots::crud::get,
        robots::crud::update,
        robots::crud::delete,
        robots::commands::send,
        robots::commands::list,
        robots::commands::get,
        robots::estop::estop,
        robots::estop::reset,
        robots::history::telemetry,
        robots::history::aggregate,
        robots::history::safety_events,
        cameras::list::list,
        cameras::list::get,
        cameras::control::start,
        cameras::control::pause,
        cameras::control::resume,
        cameras::control::stop,
        environments::get::list,
        environments::get::get,
        environments::get::cameras,
        environments::get::zones,
        zones::crud::list,
        zones::crud::create,
        zones::crud::get,
        zones::crud::replace,
        zones::crud::delete,
        sessions::get::list,
        sessions::get::get,
        sessions::control::start,
        sessions::control::pause,
        sessions::control::resume,
        sessions::control::stop,
        sessions::control::delete,
        persons::active::active,
        persons::search::search,
        persons::get::get,
        persons::get::trajectory,
        persons::get::journey,
        persons::similar::similar,
        people_analytics::detections::detections,
        people_analytics::tracking::tracking,
        people_analytics::heatmap::heatmap,
        people_analytics::occupancy::occupancy,
        people_analytics::export::tracking,
        people_analytics::export::report,
        nodes::list::list,
        nodes::create::create,
        nodes::register::register,
        nodes::get::get,
        nodes::update::update,
        nodes::delete::delete,
        nodes::metrics::metrics,
        detections::list::list,
        detections::export::export,
        system::consensus::rounds,
        system::status::status,
        system::health::health,
        system::summary::summary,
        system::logs::logs,
        system::dead_letters::dead_letters,
        system::quarantine::list,
    ),
    components(schemas(super::error::ErrorBody, super::error::ErrorDetail, crate::auth::Role)),
    modifiers(&Security),
    security(("bearer" = []), ("api_key" = [])),
    tags(
        (name = "auth", description = "Sign in, refresh, sign out"),
        (name = "users", description = "Users and roles (ADMIN)"),
        (name = "api-keys", description = "Keys for machine clients (ADMIN)"),
        (name = "audit", description = "Who did what (ADMIN)"),
        (name = "devices", description = "Trackers"),
        (name = "vehicles", description = "Vehicles and their trackers"),
        (name = "telemetry", description = "Stored history and exports"),
        (name = "fleet", description = "The fleet at a glance"),
        (name = "geofences", description = "Circles, polygons and corridors, as GeoJSON"),
        (name = "alerts", description = "Alert rules, and the alerts they raise: acknowledge, clear"),
        (name = "reports", description = "Trips, stays, summaries, route punctuality and events over a window, as JSON or CSV"),
        (name = "analytics", description = "Fleet, vehicle, fuel and route figures for dashboards"),
        (name = "transit", description = "Routes, stops, timetables, vehicles on routes, arrivals and ETAs"),
        (name = "notifications", description = "Webhook and e-mail channels for alerts (ADMIN)"),
        (name = "edge", description = "Edge AI nodes over MQTT: nodes, detections, consensus rounds, system metrics and log"),
        (name = "cameras", description = "Fixed cameras and people: environments, zones, tracking sessions, recorded people (trajectory, journey), people analytics and exports"),
        (name = "operations", description = "Health, readiness, metrics, WebSocket"),
    )
)]
pub struct ApiDoc;

/// The document with each operation's admitted roles added to its description.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for (path, item) in doc.paths.paths.iter_mut() {
        for (verb, op) in operations(item) {
            let Some(spec) = super::access::lookup(&verb.method(), path) else {
                continue;
            };
            let who = match spec.access {
                super::access::Access::Public => "Open to anyone.".to_owned(),
                super::access::Access::Metrics => {
                    "Needs auth.metrics_token when it is set.".to_owned()
                }
                super::access::Access::Handler => {
                    "Authenticates with `?token=` or a first `auth` message.".to_owned()
                }
                super::access::Access::Roles(roles) => format!(
                    "Roles: {}.",
                    roles
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let text = op.description.take().unwrap_or_default();
            op.description = Some(if text.is_empty() {
                who
            } else {
                format!("{text}\n\n{who}")
            });
            let takes_input =
                op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let probe = matches!(spec.path, "/health" | "/ready" | "/metrics");
            let mut common: Vec<(&str, &str)> = Vec::new();
            if takes_input {
                common.push(("400", "Malformed path, query or body"));
            }
            if op.request_body.is_some() {
                common.push(("413", "Body over the limit (64 KiB)"));
            }
            if let super::access::Access::Roles(_) = spec.access {
                common.push(("401", "No, an invalid, an expired or a revoked credential"));
                common.push(("403", "The caller's role is not admitted"));
            }
            if !probe {
                common.push(("429", "Rate limited; see Retry-After"));
                common.push(("500", "Internal error; the body holds only a reference id"));
            }
            for (code, text) in common {
                if !op.responses.responses.contains_key(code) {
                    op.responses
                        .responses
                        .insert(code.to_owned(), error_response(text));
                }
            }
        }
    }
    doc
}

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// The operations of a path item, by verb.
pub fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> Vec<(super::access::Verb, &mut utoipa::openapi::path::Operation)> {
    use super::access::Verb;
    [
        (Verb::Get, item.get.as_mut()),
        (Verb::Post, item.post.as_mut()),
        (Verb::Put, item.put.as_mut()),
        (Verb::Patch, item.patch.as_mut()),
        (Verb::Delete, item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(v, op)| op.map(|op| (v, op)))
    .collect()
}

/// Swagger UI at `/api/docs/`, reading `/api/v1/openapi.json`.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/api/docs/{_:.*}").url("/api/v1/openapi.json", document())
}

/// `/api/docs` → `/api/docs/`.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/api/docs/"))
        .finish()
}
