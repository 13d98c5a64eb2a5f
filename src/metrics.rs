//! The Prometheus recorder. Metric names live in `urbanstream_actors::metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use urbanstream_actors::metrics::{
    describe, CAMERA_DETECT_SECONDS, HTTP_REQUEST_DURATION_SECONDS, TELTONIKA_ACK_LATENCY_SECONDS,
};

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(TELTONIKA_ACK_LATENCY_SECONDS.to_owned()),
                &[
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0, 5.0,
                ],
            )
            .map_err(|e| e.to_string())?
            // Fine below 50 ms, where the API's latency targets are.
            .set_buckets_for_metric(
                Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ],
            )
            .map_err(|e| e.to_string())?
            // Around the 50 ms a frame that detection is allowed.
            .set_buckets_for_metric(
                Matcher::Full(CAMERA_DETECT_SECONDS.to_owned()),
                &[0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0],
            )
            .map_err(|e| e.to_string())?;
        let handle = builder.install_recorder().map_err(|e| e.to_string())?;
        describe();
        Ok(handle)
    });
    handle
        .clone()
        .map_err(|e| anyhow::anyhow!("metrics recorder: {e}"))
}
