//! Logging: tracing to stderr, text or JSON, filtered by `log.filter` or RUST_LOG.

use tracing_subscriber::EnvFilter;

use crate::config::LogSettings;

/// Installs the global subscriber (once; later calls are ignored).
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_from_env| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_bad_filter| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _already_set = if settings.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
