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
}
