use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::http::{ApiError, HttpState};

/// `GET /api/v1/system/health`: `{database, mqtt, redis}`, each `ok` or why not; 503 when
/// one is down.
#[utoipa::path(get, path = "/api/v1/system/health", tag = "edge", responses((status = 200, description = "All up", body = Object), (status = 503, description = "Something is down", body = Object)))]
pub async fn health(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let database = match state.store.ping().await {
        Ok(()) => json!({ "status": "ok", "backend": state.store.backend() }),
        Err(e) => json!({ "status": e.kind(), "backend": state.store.backend() }),
    };
    let db_ok = database["status"] == "ok";
    let (mqtt_ok, mqtt) = state.edge.mqtt.check();
    let redis = match &state.redis {
        None => json!({ "status": "disabled" }),
        Some(bridge) => match bridge
            .send(urbanstream_actors::redis_bridge::PingRedis)
            .await
        {
            Ok(Ok(())) => json!({ "status": "ok" }),
            _ => json!({ "status": "unavailable" }),
        },
    };
    let redis_ok = redis["status"] != "unavailable";
    let body = json!({ "database": database, "mqtt": mqtt, "redis": redis });
    Ok(if db_ok && mqtt_ok && redis_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    })
}
