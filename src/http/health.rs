use actix_web::{web, HttpResponse};
use serde_json::json;

use super::HttpState;

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "The process is up", body = Object)), security(()))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Readiness: the database answers, and Redis when it is configured.
#[utoipa::path(get, path = "/ready", tag = "operations", responses((status = 200, description = "Database (and Redis when configured) answer", body = Object), (status = 503, description = "A dependency is down", body = Object)), security(()))]
pub async fn ready(state: web::Data<HttpState>) -> HttpResponse {
    let database = match state.store.ping().await {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::warn!("not ready: database: {e}");
            Err(e.kind().to_owned())
        }
    };
    let redis = match &state.redis {
        None => None,
        Some(bridge) => Some(
            match bridge
                .send(urbanstream_actors::redis_bridge::PingRedis)
                .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => {
                    let e = urbanstream_schema::redact::redact(&e.to_string());
                    tracing::warn!("not ready: redis: {e}");
                    Err("unavailable".to_owned())
                }
                Err(_mailbox) => Err("bridge stopped".to_owned()),
            },
        ),
    };
    let status = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.clone(),
    };
    let (mqtt_ok, mqtt) = state.edge.mqtt.check();
    let ok = database.is_ok() && redis.as_ref().is_none_or(Result::is_ok) && mqtt_ok;
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "database": { "backend": state.store.backend(), "status": status(&database) },
        "redis": redis.as_ref().map(status),
        "mqtt": mqtt,
    });
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
