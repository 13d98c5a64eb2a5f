//! `[log]` and `[http]`.

use std::net::SocketAddr;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub filter: String,
    pub json: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    pub workers: usize,
    /// Origins allowed to call the API from a browser (CORS); empty: same origin only.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// HTTPS and WSS on `listen` with this certificate (reloaded when its files change);
    /// also the certificate of the MQTT and Teltonika TLS listeners.
    #[serde(default)]
    pub tls: Option<urbanstream_actors::tls::TlsFiles>,
}

/// `[ws]`: the WebSocket clients.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WsSettings {
    /// Topics one connection may hold at once; a subscription past it gets an error frame.
    pub max_topics: usize,
    /// A client that takes longer than this to take one frame (it stopped reading, or its
    /// link cannot carry what it subscribed to even coalesced) is cut off with close code
    /// 1013 (try again later) rather than held with its backlog.
    #[serde(with = "super::duration")]
    pub write_timeout: std::time::Duration,
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            max_topics: 10_000,
            write_timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// `[dashboard]`: the dispatch dashboard served at `/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardSettings {
    pub enabled: bool,
    /// A raster tile server for a base map, e.g. `https://tile.openstreetmap.org/{z}/{x}/{y}.png`;
    /// empty: the map draws our own layers on a plain background (works with no internet).
    #[serde(default)]
    pub tile_url: String,
    /// The attribution the tile server's licence asks for, shown on the map.
    #[serde(default)]
    pub tile_attribution: String,
}

impl DashboardSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.tile_url.is_empty() {
            return Ok(());
        }
        if self.tile_origin().is_none() {
            return Err("dashboard.tile_url must be an http(s) URL".into());
        }
        for part in ["{z}", "{x}", "{y}"] {
            if !self.tile_url.contains(part) {
                return Err(format!("dashboard.tile_url must contain {part}"));
            }
        }
        Ok(())
    }

    /// `scheme://host[:port]` of the tile server, for the Content-Security-Policy.
    pub fn tile_origin(&self) -> Option<String> {
        let (scheme, rest) = self.tile_url.split_once("://")?;
        if !matches!(scheme, "http" | "https") {
            return None;
        }
        let host = rest.split('/').next().filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '{' | '}'))
        })?;
        Some(format!("{scheme}://{host}"))
    }
}
