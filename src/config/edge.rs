//! `[mqtt]` (the broker edge nodes report to: embedded, or an external one) and `[edge]`
//! (the edge node entities).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSection {
    /// Off: no MQTT at all (no broker, no client).
    pub enabled: bool,
    /// An external broker, `mqtt://host:port` or over TLS `mqtts://host:port` (8883 by
    /// default); unset: the embedded broker on `listen`.
    #[serde(default)]
    pub url: Option<String>,
    /// `mqtts://`: the CA certificates (PEM) the broker's certificate must chain to.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// `mqtts://` to a broker that asks for a client certificate: ours (PEM files).
    #[serde(default)]
    pub client_tls: Option<urbanstream_actors::tls::TlsFiles>,
    /// Where the embedded broker listens.
    pub listen: SocketAddr,
    /// The embedded broker's TLS listener (MQTT over TLS, usually 8883), with the
    /// certificate of `http.tls`.
    #[serde(default)]
    pub tls_listen: Option<SocketAddr>,
    /// Client id at the external broker: fixed, so the broker keeps the session.
    pub client_id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Subscribe as `$share/{group}/…` (several urbanstream nodes share the messages).
    #[serde(default)]
    pub shared_group: Option<String>,
    #[serde(with = "duration")]
    pub keep_alive: Duration,
    /// Messages received and not yet acknowledged, at most.
    pub inflight: usize,
    /// Largest payload accepted; larger ones are refused and dead-lettered.
    pub max_payload: usize,
    /// How far ahead of our clock a message's timestamp may be (and none before 2000).
    #[serde(with = "duration")]
    pub max_future: Duration,
}

impl MqttSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.url {
            self.broker(url)?;
        }
        if self.inflight == 0 {
            return Err(ConfigError::Invalid {
                key: "mqtt.inflight",
                message: "must be at least 1".into(),
            });
        }
        if self.max_payload < 1024 {
            return Err(ConfigError::Invalid {
                key: "mqtt.max_payload",
                message: "must be at least 1024 bytes".into(),
            });
        }
        if self.client_id.is_empty() {
            return Err(ConfigError::Invalid {
                key: "mqtt.client_id",
                message: "must not be empty".into(),
            });
        }
        Ok(())
    }

    /// Host and port of `mqtt.url`.
    pub fn broker(&self, url: &str) -> Result<(String, u16), ConfigError> {
        let bad = |message: String| ConfigError::Invalid {
            key: "mqtt.url",
            message,
        };
        let (rest, default_port) = match url.split_once("://") {
            Some(("mqtt" | "tcp", rest)) => (rest, 1883),
            Some(("mqtts" | "ssl", rest)) => (rest, 8883),
            _ => {
                return Err(bad(format!(
                    "`{}` must start with mqtt:// or mqtts://",
                    urbanstream_schema::redact::redact(url)
                )))
            }
        };
        let rest = rest.trim_end_matches('/');
        // `user:password@` is the client's credentials (see `credentials`), not the host.
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|e| bad(format!("port `{p}`: {e}")))?,
            ),
            None => (rest, default_port),
        };
        if host.is_empty() {
            return Err(bad(format!(
                "`{}` names no host",
                urbanstream_schema::redact::redact(url)
            )));
        }
        Ok((host.to_owned(), port))
    }

    /// The client's username and password: `mqtt.username` / `mqtt.password`, else the
    /// URL's `user:password@`.
    pub fn credentials(&self, url: &str) -> (Option<String>, Option<String>) {
        let userinfo = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|authority| authority.rsplit_once('@'))
            .map(|(userinfo, _)| userinfo);
        let (user, password) = match userinfo.map(|u| u.split_once(':')) {
            Some(Some((u, p))) => (Some(u.to_owned()), Some(p.to_owned())),
            Some(None) => (userinfo.map(str::to_owned), None),
            None => (None, None),
        };
        (
            self.username.clone().or(user.filter(|u| !u.is_empty())),
            self.password.clone().or(password),
        )
    }

    /// The TLS of an `mqtts://` URL (its CA from `ca_file`, our certificate from
    /// `client_tls`); `None` for `mqtt://`.
    pub fn tls(
        &self,
        url: &str,
    ) -> Result<Option<std::sync::Arc<rustls::ClientConfig>>, ConfigError> {
        if !(url.starts_with("mqtts://") || url.starts_with("ssl://")) {
            return Ok(None);
        }
        let ca = self.ca_file.as_ref().ok_or(ConfigError::Invalid {
            key: "mqtt.ca_file",
            message: "an mqtts:// broker needs the CA its certificate chains to".into(),
        })?;
        urbanstream_actors::tls::client_config(ca, self.client_tls.as_ref())
            .map(|c| Some(std::sync::Arc::new(c)))
            .map_err(|e| ConfigError::Invalid {
                key: "mqtt.ca_file",
                message: e.to_string(),
            })
    }

    pub fn limits(&self) -> urbanstream_actors::mqtt::Limits {
        urbanstream_actors::mqtt::Limits {
            max_payload: self.max_payload,
            clock: urbanstream_actors::entity::ClockBounds {
                max_ahead: chrono::Duration::from_std(self.max_future)
                    .unwrap_or(chrono::Duration::MAX),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownNodes {
    Refuse,
    Quarantine,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSection {
    /// Register a node never seen before on its first message (development). Otherwise a
    /// node must be created (REST) or register itself with an API key first.
    pub register_unknown: bool,
    /// Embedded broker: nodes connect with username = node id and password = the API key
    /// they registered with. Off (development): any client may connect.
    pub authenticate: bool,
    /// With `authenticate`: a node that is not registered but presents a valid API key is
    /// refused (`refuse`), or registered as quarantined (`quarantine`): connected, its
    /// messages kept as dead letters until an operator admits it
    /// (`PATCH /api/v1/nodes/{id}` with `{"quarantined": false}`).
    pub unknown_nodes: UnknownNodes,
    /// Nothing heard for this long: the node is offline (3 heartbeat intervals).
    #[serde(with = "duration")]
    pub offline_after: Duration,
    pub mailbox: usize,
    /// A consensus outcome needs more than this share of the round's votes.
    pub quorum: f64,
    /// How often the system metrics are computed, stored and pushed.
    #[serde(with = "duration")]
    pub metrics_every: Duration,
    /// Corroboration: detections of one object type by this many nodes (0: off) within
    /// `corroboration_window`, and within `corroboration_distance_m` of each other where
    /// their positions are known (0: any distance), make one corroborated event.
    pub corroboration_nodes: usize,
    #[serde(with = "duration")]
    pub corroboration_window: Duration,
    pub corroboration_distance_m: f64,
    /// Retention, in days (0 keeps everything).
    pub detections_days: u32,
    pub system_metrics_days: u32,
    pub system_logs_days: u32,
}

impl EdgeSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.offline_after.is_zero() || self.metrics_every.is_zero() {
            return Err(ConfigError::Invalid {
                key: "edge.offline_after",
                message: "durations must be more than zero".into(),
            });
        }
        if !(0.0..1.0).contains(&self.quorum) {
            return Err(ConfigError::Invalid {
                key: "edge.quorum",
                message: "must be at least 0 and less than 1".into(),
            });
        }
        if !(self.corroboration_distance_m >= 0.0 && self.corroboration_distance_m.is_finite()) {
            return Err(ConfigError::Invalid {
                key: "edge.corroboration_distance_m",
                message: "must be zero (any distance) or more".into(),
            });
        }
        if self.mailbox == 0 {
            return Err(ConfigError::Invalid {
                key: "edge.mailbox",
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

impl EdgeSection {
    pub fn corroboration(&self) -> urbanstream_actors::system::CorroborationSettings {
        urbanstream_actors::system::CorroborationSettings {
            min_nodes: self.corroboration_nodes,
            window_ms: i64::try_from(self.corroboration_window.as_millis()).unwrap_or(i64::MAX),
            max_distance_m: self.corroboration_distance_m,
        }
    }
}
