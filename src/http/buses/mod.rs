//! Modbus buses (`/api/v1/modbus/buses`): a serial port (RTU) or a TCP gateway, and a scan
//! for the modules on one.

pub mod crud;
pub mod discover;

use serde::Deserialize;
use urbanstream_schema::models::NewBus;
use utoipa::ToSchema;

use super::ApiError;

/// A bus as created or replaced: `{"name", "kind": "tcp", "address": "host:port"}` or
/// `{"name", "kind": "rtu", "path", "baud", "parity": "N|E|O", "stop_bits"}`, plus `poll_hz`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusBody {
    pub name: String,
    /// `tcp` or `rtu`.
    pub kind: String,
    pub address: Option<String>,
    pub path: Option<String>,
    pub baud: Option<i32>,
    pub parity: Option<String>,
    pub stop_bits: Option<i32>,
    /// Polls per second of each robot on the bus (default `modbus.poll_hz`).
    pub poll_hz: Option<f64>,
}

impl BusBody {
    pub(crate) fn row(self, now_ms: i64) -> Result<NewBus, ApiError> {
        let bad = |m: &str| Err(ApiError::BadRequest(m.to_owned()));
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.len() > 100 {
            return bad("name must be 1 to 100 characters");
        }
        let poll_hz = self.poll_hz.unwrap_or(10.0);
        if !(0.1..=1000.0).contains(&poll_hz) {
            return bad("poll_hz must be 0.1 to 1000");
        }
        let (address, path) = match self.kind.as_str() {
            "tcp" => {
                let Some(a) = self.address.filter(|a| a.contains(':') && a.len() <= 255) else {
                    return bad("a tcp bus needs `address` as host:port");
                };
                if self.path.is_some() {
                    return bad("a tcp bus has no `path`");
                }
                (Some(a), None)
            }
            "rtu" => {
                let Some(p) = self.path.filter(|p| !p.is_empty() && p.len() <= 255) else {
                    return bad("an rtu bus needs `path` (a serial device)");
                };
                (None, Some(p))
            }
            _ => return bad("kind must be `tcp` or `rtu`"),
        };
        let baud = self.baud.unwrap_or(115_200);
        if !(1200..=4_000_000).contains(&baud) {
            return bad("baud must be 1200 to 4000000");
        }
        let parity = self.parity.unwrap_or_else(|| "N".into()).to_uppercase();
        if !matches!(parity.as_str(), "N" | "E" | "O") {
            return bad("parity must be N, E or O");
        }
        let stop_bits = self.stop_bits.unwrap_or(1);
        if !matches!(stop_bits, 1 | 2) {
            return bad("stop_bits must be 1 or 2");
        }
        Ok(NewBus {
            name,
            kind: self.kind,
            address,
            path,
            baud,
            parity,
            stop_bits,
            poll_hz,
            created_ms: now_ms,
            updated_ms: now_ms,
        })
    }
}

/// Tells the bus manager the buses or robots changed, and waits until it has applied the
/// change, so that a client may use a bus or robot as soon as it was told it exists. (A
/// manager that cannot read them now retries on its own; the change is stored either way.)
pub(crate) async fn reload(state: &super::HttpState) {
    if let Some(m) = &state.modbus {
        if let Ok(Err(e)) = m.send(urbanstream_actors::modbus::Reload).await {
            tracing::warn!("modbus buses not reloaded yet: {e}");
        }
    }
}
