//! The edge system at a glance: metrics, health of what it depends on, nodes by status,
//! the system log, consensus rounds, refused MQTT messages and the quarantine.

pub mod consensus;
pub mod dead_letters;
pub mod health;
pub mod logs;
pub mod quarantine;
pub mod status;
pub mod summary;

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use urbanstream_actors::mqtt::Connected;
use urbanstream_actors::system::SystemView;

use super::ApiError;

/// Where edge nodes' messages come from.
#[derive(Clone)]
pub enum MqttStatus {
    Disabled,
    Embedded {
        listen: SocketAddr,
    },
    External {
        broker: String,
        connected: Connected,
    },
}

impl MqttStatus {
    /// `(healthy, description)`.
    pub fn check(&self) -> (bool, serde_json::Value) {
        match self {
            Self::Disabled => (true, serde_json::json!({ "status": "disabled" })),
            Self::Embedded { listen } => (
                true,
                serde_json::json!({ "status": "ok", "broker": "embedded", "listen": listen.to_string() }),
            ),
            Self::External { broker, connected } => {
                let up = connected.get();
                (
                    up,
                    serde_json::json!({
                        "status": if up { "ok" } else { "disconnected" },
                        "broker": broker,
                    }),
                )
            }
        }
    }
}

/// What the edge routes share.
#[derive(Clone)]
pub struct EdgeState {
    pub offline_after: Duration,
    pub system: SystemView,
    pub mqtt: MqttStatus,
}

/// A time window over `[from, to)`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Span {
    /// RFC 3339; default 24 h before `to`.
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive; default now.
    pub to: Option<DateTime<Utc>>,
    /// 1..=1000, default 100.
    pub limit: Option<i64>,
    /// Node id (consensus rounds only).
    pub node: Option<String>,
    /// debug, info, warning, error (logs only).
    pub level: Option<String>,
    /// `node:{id}`, … (logs only).
    pub source: Option<String>,
}

impl Span {
    pub(crate) fn range(&self) -> Result<(i64, i64, i64), ApiError> {
        let to = self.to.unwrap_or_else(Utc::now);
        let from = self.from.unwrap_or(to - chrono::Duration::hours(24));
        if from >= to {
            return Err(ApiError::BadRequest("`from` must be before `to`".into()));
        }
        let limit = super::page::limit(self.limit)?;
        Ok((from.timestamp_millis(), to.timestamp_millis(), limit))
    }
}

pub(crate) fn time(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(ms)
}
