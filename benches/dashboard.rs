//! The dashboard under load, in headless Chromium against an in-process server fed by
//! simulated trackers over TCP:
//!   cargo bench --bench dashboard -- [VEHICLES] [MINUTES]     (defaults 10000, 10)
//! Prints the page's load time to the first vehicle on the map (five reloads), the gzip size
//! of what the page loads, and, with every vehicle sending once a second: frame interval
//! (requestAnimationFrame) p50/p95, the map's render time p50/p95, the main thread's busy
//! share (DevTools `TaskDuration` over wall time) and the JS heap every minute.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A failed unwrap is a failed run.

#[path = "../tests/common/browser.rs"]
#[allow(dead_code)]
mod browser;

use std::io::Write;
use std::time::{Duration, Instant};

use browser::Browser;
use serde_json::json;
use urbanstream::config::Settings;
use urbanstream::server::ServerBuilder;

const PASSWORD: &str = "bench-admin-password";

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[(((p / 100.0) * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

/// Wall time and main-thread task time (s), and the JS heap (bytes) — the heap after a
/// collection when `collect`, so that it shows what is kept, not what awaits collection.
async fn metrics(b: &Browser, collect: bool) -> (f64, f64, f64) {
    if collect {
        b.call("HeapProfiler.collectGarbage", json!({})).await;
    }
    let m = b.call("Performance.getMetrics", json!({})).await;
    let get = |name: &str| {
        m["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .and_then(|x| x["value"].as_f64())
            .unwrap_or(f64::NAN)
    };
    (get("Timestamp"), get("TaskDuration"), get("JSHeapUsedSize"))
}

/// The gzip size of the page and every file it loads.
fn bundle_gzip() -> (usize, usize) {
    let (mut raw, mut gz) = (0, 0);
    for entry in walk(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/web"
    ))) {
        let bytes = std::fs::read(&entry).unwrap();
        raw += bytes.len();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&bytes).unwrap();
        gz += e.finish().unwrap().len();
    }
    (raw, gz)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let vehicles: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let minutes: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let dir = std::env::temp_dir().join(format!(
        "urbanstream-bench-dashboard-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = Settings::defaults_with(&[
        ("http.listen", "127.0.0.1:0"),
        ("teltonika.listen", "127.0.0.1:0"),
        ("mqtt.listen", "127.0.0.1:0"),
        ("log.filter", "warn"),
    ])
    .unwrap();
    s.database.url = format!("sqlite://{}/bench.db", dir.display());
    s.teltonika.register_unknown = true;
    s.auth.bootstrap_admin_password = Some(PASSWORD.into());
    s.auth.rate_per_principal = 1_000_000;
    s.auth.burst_per_principal = 1_000_000;
    s.auth.rate_per_ip = 1_000_000;
    s.auth.burst_per_ip = 1_000_000;
    urbanstream::logging::init(&s.log);
    actix_rt::System::new().block_on(async move {
        let server = ServerBuilder::new(s).start().await.unwrap();
        let base = format!("http://{}", server.http_addr);
        let (raw, gz) = bundle_gzip();
        println!("bundle: {raw} bytes, {gz} bytes gzip (page, styles, scripts)");

        // The trackers in a process of their own (each side holds one socket per vehicle).
        let mut sim = std::process::Command::new(env!("CARGO_BIN_EXE_urbanstream"))
            .args(["simulate", "teltonika", "--quiet", "--rate", "1"])
            .args(["--devices", &vehicles.to_string()])
            .args(["--duration", &format!("{}s", minutes * 60 + 300)])
            .args(["--target", &server.teltonika_addr.to_string()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("starting the simulator");
        // Until every vehicle has a position.
        let started = Instant::now();
        loop {
            let seen = server.directory.len();
            if seen >= vehicles || started.elapsed() > Duration::from_secs(300) {
                println!("{seen} vehicles connected after {:.1} s", started.elapsed().as_secs_f64());
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        let b = Browser::start().await;
        b.call("Performance.enable", json!({})).await;
        b.goto(&format!("{base}/")).await;
        b.sign_in("admin", PASSWORD).await;
        let mut loads = Vec::new();
        for _ in 0..5 {
            b.call("Page.reload", json!({"ignoreCache": true})).await;
            b.wait_for("typeof window.urbanstreamFirstVehicleMs === 'number'", Duration::from_secs(30))
                .await;
            loads.push(b.eval("window.urbanstreamFirstVehicleMs").await.as_f64().unwrap());
        }
        println!(
            "initial load → first vehicle on the map: median {:.0} ms, max {:.0} ms (5 reloads, signed in)",
            percentile(loads.clone(), 50.0),
            percentile(loads, 100.0)
        );
        b.wait_for(&format!("urbanstreamMap.vehicles.size >= {}", vehicles * 95 / 100), Duration::from_secs(60))
            .await;
        b.eval(
            "window.benchFrames = []; (() => { let last; const f = (t) => { if (last !== undefined) benchFrames.push(t - last); last = t; requestAnimationFrame(f); }; requestAnimationFrame(f); })(); urbanstreamMap.renderTimes.length = 0; true",
        )
        .await;
        let (_, _, heap0) = metrics(&b, true).await;
        let (t0, busy0, _) = metrics(&b, false).await;
        println!("minute 0: JS heap {:.1} MB (after a collection, as every figure below)", heap0 / 1e6);
        let mut heaps = vec![heap0];
        for minute in 1..=minutes {
            tokio::time::sleep(Duration::from_secs(60)).await;
            let (_, _, heap) = metrics(&b, true).await;
            let shown = b.eval("urbanstreamMap.vehicles.size").await;
            println!("minute {minute}: JS heap {:.1} MB, vehicles on the map {shown}", heap / 1e6);
            heaps.push(heap);
        }
        let (t1, busy1, _) = metrics(&b, false).await;
        let frames: Vec<f64> = serde_json::from_value::<Vec<f64>>(b.eval("benchFrames").await).unwrap();
        let renders: Vec<f64> =
            serde_json::from_value::<Vec<f64>>(b.eval("urbanstreamMap.renderTimes").await).unwrap();
        println!(
            "{vehicles} vehicles at 1 Hz for {minutes} min: frame interval p50 {:.1} ms p95 {:.1} ms ({} frames); map render p50 {:.1} ms p95 {:.1} ms ({} renders); main thread busy {:.0} %",
            percentile(frames.clone(), 50.0),
            percentile(frames.clone(), 95.0),
            frames.len(),
            percentile(renders.clone(), 50.0),
            percentile(renders.clone(), 95.0),
            renders.len(),
            100.0 * (busy1 - busy0) / (t1 - t0),
        );
        let first_full = heaps.get(1).copied().unwrap_or(heap0);
        println!(
            "JS heap: minute 1 {:.1} MB, minute {minutes} {:.1} MB ({:+.1} %)",
            first_full / 1e6,
            heaps.last().unwrap() / 1e6,
            100.0 * (heaps.last().unwrap() - first_full) / first_full
        );
        let console: Vec<String> = b.console.lock().unwrap().clone();
        if !console.is_empty() {
            println!("page console: {console:?}");
        }
        let _ = sim.kill();
        let _ = sim.wait();
        drop(b);
        server.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}
