//! `/api/v1/config`: the settings that may change while the service runs — Modbus
//! timeouts and default poll rate, robots' telemetry rate and thresholds — validated as at
//! start, applied at once (buses whose timing changes reopen their link; robot actors read
//! theirs at every reading), and audited. They last until the next start, which reads the
//! configuration files again.

use std::time::Duration;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use urbanstream_actors::modbus::{ModbusSettings, Retune};
use urbanstream_actors::robot::RobotTuning;
use utoipa::ToSchema;

use super::access::AuditNote;
use super::{ApiError, HttpState};
use crate::auth::Principal;

/// The run-time settings, in milliseconds and counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuntimeConfig {
    pub modbus: ModbusView,
    pub robots: RobotsView,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModbusView {
    /// Every Modbus transaction's deadline (1 to 10000).
    pub timeout_ms: Option<u64>,
    /// How long a command waits for the robot's sequence echo (10 to 60000).
    pub command_timeout_ms: Option<u64>,
    /// Polls per second of a bus that sets none (0.1 to 1000).
    pub poll_hz: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotsView {
    /// At most one telemetry row per robot this often (100 to 3600000).
    pub telemetry_every_ms: Option<u64>,
    /// Polls with a frozen control cycle counter before a robot is stale (1 to 1000).
    pub stale_after_polls: Option<u32>,
    /// Failed polls in a row before a robot is disconnected (1 to 1000).
    pub offline_after_polls: Option<u32>,
}

/// A change: any of the fields, the rest stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    pub modbus: Option<ModbusView>,
    pub robots: Option<RobotsView>,
}

fn view(m: &ModbusSettings, r: &RobotTuning) -> RuntimeConfig {
    RuntimeConfig {
        modbus: ModbusView {
            timeout_ms: Some(m.timeout.as_millis() as u64),
            command_timeout_ms: Some(m.command_timeout.as_millis() as u64),
            poll_hz: Some(m.default_poll_hz),
        },
        robots: RobotsView {
            telemetry_every_ms: Some(r.telemetry_every.as_millis() as u64),
            stale_after_polls: Some(r.stale_after),
            offline_after_polls: Some(r.offline_after),
        },
    }
}

fn current(state: &HttpState) -> (ModbusSettings, RobotTuning) {
    (*state.tuning.modbus.borrow(), *state.tuning.robots.borrow())
}

/// `GET /api/v1/config`.
#[utoipa::path(get, path = "/api/v1/config", tag = "config", responses((status = 200, description = "The run-time settings", body = RuntimeConfig)))]
pub async fn get(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let (m, r) = current(&state);
    Ok(HttpResponse::Ok().json(view(&m, &r)))
}

fn within<T: PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    v: Option<T>,
    lo: T,
    hi: T,
) -> Result<Option<T>, ApiError> {
    match v {
        Some(x) if !(x >= lo && x <= hi) => {
            Err(ApiError::BadRequest(format!("{key} must be {lo} to {hi}")))
        }
        other => Ok(other),
    }
}

/// `PATCH /api/v1/config`: validated (400 names the key), applied at once, audited with
/// what changed.
#[utoipa::path(patch, path = "/api/v1/config", tag = "config", request_body = ConfigPatch, responses((status = 200, description = "The settings now in force", body = RuntimeConfig)))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    body: web::Json<ConfigPatch>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.into_inner();
    let (mut m, mut r) = current(&state);
    if let Some(p) = &patch.modbus {
        if let Some(ms) = within("modbus.timeout_ms", p.timeout_ms, 1, 10_000)? {
            m.timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = within(
            "modbus.command_timeout_ms",
            p.command_timeout_ms,
            10,
            60_000,
        )? {
            m.command_timeout = Duration::from_millis(ms);
        }
        if let Some(hz) = within("modbus.poll_hz", p.poll_hz, 0.1, 1000.0)? {
            m.default_poll_hz = hz;
        }
    }
    if let Some(p) = &patch.robots {
        if let Some(ms) = within(
            "robots.telemetry_every_ms",
            p.telemetry_every_ms,
            100,
            3_600_000,
        )? {
            r.telemetry_every = Duration::from_millis(ms);
        }
        if let Some(n) = within("robots.stale_after_polls", p.stale_after_polls, 1, 1000)? {
            r.stale_after = n;
        }
        if let Some(n) = within("robots.offline_after_polls", p.offline_after_polls, 1, 1000)? {
            r.offline_after = n;
        }
    }
    let (before_m, before_r) = current(&state);
    let before = serde_json::to_value(view(&before_m, &before_r)).unwrap_or_default();
    let after = serde_json::to_value(view(&m, &r)).unwrap_or_default();
    state.tuning.robots.send_replace(r);
    state.tuning.modbus.send_replace(m);
    if let Some(manager) = &state.modbus {
        manager.do_send(Retune(m));
    }
    req.extensions_mut().insert(AuditNote {
        actor: principal.name.clone(),
        actor_kind: principal.kind_label(),
        detail: Some(serde_json::json!({ "before": before, "after": after }).to_string()),
    });
    tracing::info!(by = %principal.name, %after, "run-time configuration changed");
    Ok(HttpResponse::Ok().json(after))
}
