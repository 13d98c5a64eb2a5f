//! The Prometheus exposition passes `promtool check metrics` (Debian's prometheus package).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{imei, record, settings, TestApp, WAIT};
use urbanstream_actors::teltonika::codec::{encode_avl_frame, CodecId};

#[actix_rt::test]
async fn metrics_pass_promtool() {
    let app = TestApp::start(settings(|_| {})).await;
    // Traffic, so that counters, gauges and histograms all have series.
    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(356_307_042_441_000)).await, 1);
    let rec = record(common::now_ms(), 44.7722, 17.191);
    dev.send(&encode_avl_frame(CodecId::Codec8, &[rec]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let mut bad = app.device().await;
    assert_eq!(bad.login(imei(490_154_203_237_518)).await, 0);
    app.get("/api/v1/devices/1/latest").await;

    let (status, body) = app.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("urbanstream_teltonika_ack_latency_seconds_bucket"));
    assert!(body.contains("urbanstream_db_flush_seconds"));
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed by scripts/test.sh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
    app.server.stop().await;
}
