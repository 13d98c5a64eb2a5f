//! `urbanstream simulate ws`: dispatchers' dashboards on WebSocket. Each client signs in with
//! a token, subscribes to `fleet` (within a viewport around a point of the bus lines) and to
//! `alerts`, and times every telemetry push from the server's receipt of the record
//! (`received_at`) to its arrival. Some clients may stop reading, to see them cut off.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use super::percentile_ms;
use super::route::LINES;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// `ws://host:port/ws?token=…` (or `wss://`).
    pub url: String,
    pub clients: usize,
    pub duration: Duration,
    /// Side of each client's square viewport in metres; 0: no viewport (the whole fleet).
    pub viewport_m: f64,
    /// Ask for batched telemetry every this many milliseconds (0: each update at once).
    pub batch_ms: u64,
    /// Clients that subscribe and then stop reading.
    pub stalled: usize,
    /// Clients connecting at once while the others are being set up.
    pub connect_concurrency: usize,
}

/// The closing summary (`--json` prints it as the last line of stdout).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DashboardSummary {
    pub clients: usize,
    /// Clients that connected and were subscribed.
    pub connected: usize,
    /// Clients that failed to connect or subscribe.
    pub failed: usize,
    /// Reading clients whose connection ended before the run did.
    pub dropped: usize,
    pub stalled: usize,
    /// Stalled clients whose connection the server ended.
    pub stalled_cut_off: usize,
    /// Telemetry updates received (items of batch frames counted one by one).
    pub pushes: u64,
    pub pushes_per_s: f64,
    pub frames: u64,
    pub bytes_per_s: f64,
    /// From the server's receipt of a record to its arrival at a client.
    pub push_p50_ms: f64,
    pub push_p99_ms: f64,
    pub push_max_ms: f64,
    pub elapsed_s: f64,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    frames: u64,
    bytes: u64,
}

/// The viewport of client `i`: a square around a point spread along the bus lines.
fn viewport(i: usize, side_m: f64) -> Option<[f64; 4]> {
    if side_m <= 0.0 {
        return None;
    }
    let line = &LINES[i % LINES.len()];
    let legs = line.stops.len() - 1;
    // A golden-ratio sequence spreads the points evenly along each line.
    let f = ((i / LINES.len()) as f64 * 0.618_033_988_75).fract() * legs as f64;
    let leg = (f as usize).min(legs - 1);
    let t = f - leg as f64;
    let (a, b) = (line.stops[leg], line.stops[leg + 1]);
    let (lat, lon) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
    let half_lat = side_m / 2.0 / 111_200.0;
    let half_lon = half_lat / lat.to_radians().cos();
    Some([
        lon - half_lon,
        lat - half_lat,
        lon + half_lon,
        lat + half_lat,
    ])
}

/// Every `"received_at":"…"` in a frame, as milliseconds since the epoch (with fraction).
fn received_times(text: &str, mut each: impl FnMut(f64)) {
    const KEY: &str = "\"received_at\":\"";
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        rest = &rest[at + KEY.len()..];
        let Some(end) = rest.find('"') else { return };
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&rest[..end]) {
            each(t.timestamp_micros() as f64 / 1000.0);
        }
        rest = &rest[end..];
    }
}

fn now_ms() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1000.0
}

enum Outcome {
    Failed,
    /// Read until the end of the run (true) or lost its connection before (false).
    Read(bool),
    /// Stalled; whether the server ended its connection.
    Stalled(bool),
}

async fn client(
    i: usize,
    opts: Arc<DashboardOptions>,
    tally: Arc<Mutex<Tally>>,
    gate: Arc<tokio::sync::Semaphore>,
    until: Instant,
) -> Outcome {
    let connected = {
        let Ok(_permit) = gate.acquire().await else {
            return Outcome::Failed;
        };
        setup(i, &opts).await
    };
    let Some(mut ws) = connected else {
        return Outcome::Failed;
    };
    if i < opts.stalled {
        tokio::time::sleep_until(until.into()).await;
        // Whatever was in flight, then the end of the connection if the server cut it.
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                    Some(Ok(_)) => continue,
                }
            }
        })
        .await
        .unwrap_or(false);
        return Outcome::Stalled(ended);
    }
    let mut local = Tally::default();
    let mut kept = true;
    loop {
        match tokio::time::timeout_at(until.into(), ws.next()).await {
            Err(_deadline) => break,
            Ok(Some(Ok(Message::Text(text)))) => {
                local.frames += 1;
                local.bytes += text.len() as u64;
                let now = now_ms();
                received_times(&text, |t| {
                    let us = ((now - t) * 1000.0).clamp(0.0, f64::from(u32::MAX));
                    local.latencies_us.push(us as u32);
                });
            }
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => {
                kept = false;
                break;
            }
            Ok(Some(Ok(_))) => {}
        }
        // Hand over now and then, so that one slow lock never holds a reader.
        if local.latencies_us.len() >= 4096 {
            flush(&tally, &mut local);
        }
    }
    flush(&tally, &mut local);
    let _ = ws.close(None).await;
    Outcome::Read(kept)
}

fn flush(tally: &Mutex<Tally>, local: &mut Tally) {
    if let Ok(mut t) = tally.lock() {
        t.latencies_us.append(&mut local.latencies_us);
        t.frames += std::mem::take(&mut local.frames);
        t.bytes += std::mem::take(&mut local.bytes);
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects, subscribes and sets the viewport; None when any of it fails.
async fn setup(i: usize, opts: &DashboardOptions) -> Option<Socket> {
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async(opts.url.as_str()),
    )
    .await
    .ok()?
    .ok()?;
    let mut ops = vec![serde_json::json!({ "op": "subscribe", "topics": ["fleet", "alerts"] })];
    if let Some(bbox) = viewport(i, opts.viewport_m) {
        ops.insert(0, serde_json::json!({ "op": "viewport", "bbox": bbox }));
    }
    if opts.batch_ms > 0 {
        ops.insert(
            0,
            serde_json::json!({ "op": "batch", "every_ms": opts.batch_ms }),
        );
    }
    for op in ops {
        ws.send(Message::Text(op.to_string().into())).await.ok()?;
    }
    // The subscription's answer, so that the measured run starts subscribed.
    let answered = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                if t.contains("\"subscribed\"") {
                    return true;
                }
                if t.contains("\"type\":\"error\"") {
                    return false;
                }
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    answered.then_some(ws)
}

/// Runs the clients on the current tokio runtime until `duration` has passed.
pub async fn run(opts: DashboardOptions) -> anyhow::Result<DashboardSummary> {
    anyhow::ensure!(opts.clients > 0, "--clients must be at least 1");
    anyhow::ensure!(
        opts.stalled <= opts.clients,
        "--stalled cannot exceed --clients"
    );
    let opts = Arc::new(opts);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let gate = Arc::new(tokio::sync::Semaphore::new(opts.connect_concurrency.max(1)));
    let started = Instant::now();
    let until = started + opts.duration;
    let handles: Vec<_> = (0..opts.clients)
        .map(|i| tokio::spawn(client(i, opts.clone(), tally.clone(), gate.clone(), until)))
        .collect();
    let mut s = DashboardSummary {
        clients: opts.clients,
        ..DashboardSummary::default()
    };
    for h in handles {
        match h.await? {
            Outcome::Failed => s.failed += 1,
            Outcome::Read(kept) => {
                s.connected += 1;
                s.dropped += usize::from(!kept);
            }
            Outcome::Stalled(ended) => {
                s.connected += 1;
                s.stalled += 1;
                s.stalled_cut_off += usize::from(ended);
            }
        }
    }
    // The measured span: from the start to the end of reading (the stalled clients' last
    // look comes after it).
    let elapsed = opts.duration.as_secs_f64();
    let mut t = std::mem::take(
        &mut *tally
            .lock()
            .map_err(|_poisoned| anyhow::anyhow!("tally lock"))?,
    );
    t.latencies_us.sort_unstable();
    s.pushes = t.latencies_us.len() as u64;
    s.pushes_per_s = s.pushes as f64 / elapsed.max(1e-9);
    s.frames = t.frames;
    s.bytes_per_s = t.bytes as f64 / elapsed.max(1e-9);
    s.push_p50_ms = percentile_ms(&t.latencies_us, 50.0);
    s.push_p99_ms = percentile_ms(&t.latencies_us, 99.0);
    s.push_max_ms = t
        .latencies_us
        .last()
        .map_or(0.0, |&v| f64::from(v) / 1000.0);
    s.elapsed_s = started.elapsed().as_secs_f64();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_times_are_found_in_single_and_batched_frames() {
        let mut got = Vec::new();
        received_times(
            r#"{"type":"batch","items":[{"data":{"received_at":"2026-12-07T10:00:00.250Z"}},{"data":{"received_at":"2026-12-07T10:00:01Z"}},{"data":{"received_at":"junk"}}]}"#,
            |t| got.push(t),
        );
        let base = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .timestamp_millis() as f64;
        assert_eq!(got, vec![base + 250.0, base + 1000.0]);
        let mut none = 0;
        received_times(r#"{"type":"alert","data":{}}"#, |_| none += 1);
        assert_eq!(none, 0);
    }

    #[test]
    fn viewports_are_squares_of_the_asked_side_on_the_lines() {
        assert_eq!(viewport(3, 0.0), None);
        let lat_span = |lat_lo: f64, lat_hi: f64| (lat_hi - lat_lo) * 111_200.0;
        let (lo_lat, hi_lat) = LINES
            .iter()
            .flat_map(|l| l.stops.iter().map(|s| s.0))
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let mut distinct = std::collections::HashSet::new();
        for i in 0..300 {
            let [w, s, e, n] = viewport(i, 500.0).unwrap();
            assert!((lat_span(s, n) - 500.0).abs() < 1e-6);
            let mid_lat = (s + n) / 2.0;
            let width_m = (e - w) * 111_200.0 * mid_lat.to_radians().cos();
            assert!((width_m - 500.0).abs() < 1e-6);
            assert!((lo_lat..=hi_lat).contains(&mid_lat));
            distinct.insert(((w * 1e5) as i64, (s * 1e5) as i64));
        }
        assert!(distinct.len() > 250, "viewports spread: {}", distinct.len());
    }
}
