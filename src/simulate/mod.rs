//! `urbanstream simulate teltonika`: real TCP trackers on bus lines around Banja Luka, with
//! realistic IO, ACK handling and resends, live progress and a closing summary.

pub mod dashboards;
mod device;
pub mod edge;
pub mod robots;
pub mod route;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use urbanstream_actors::teltonika::codec::CodecId;
use urbanstream_schema::Imei;

pub use device::DeviceReport;
use device::DeviceSpec;
use route::{Bus, LINES};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Options {
    pub devices: usize,
    /// Records per second per device; 0: each device logs in and stays connected, idle.
    pub rate: f64,
    pub duration: Duration,
    pub target: SocketAddr,
    pub codec: CodecId,
    pub imei_base: u64,
    /// How often a device sends what it has buffered.
    pub send_interval: Duration,
    pub max_records_per_frame: usize,
    pub ack_timeout: Duration,
    /// Device buffer; generation pauses while it is full.
    pub buffer_records: usize,
    /// After `duration`, how long devices keep trying to get their buffer acknowledged.
    pub drain: Duration,
    /// Print progress to stderr every second.
    pub progress: bool,
    /// A WebSocket URL (`ws://host:port/ws`): a client subscribed to `fleet` there measures
    /// the time from each frame's write to its live push.
    pub ws: Option<String>,
    /// Connect from this many local addresses (127.0.0.1, 127.0.0.2, …; the target must be
    /// on loopback): one address has about 28,000 ephemeral ports towards one server port.
    /// 0: as many as the devices need, when the target is on loopback.
    pub sources: usize,
}

impl Options {
    pub fn new(target: SocketAddr) -> Self {
        Self {
            devices: 10,
            rate: 1.0,
            duration: Duration::from_secs(10),
            target,
            codec: CodecId::Codec8Ext,
            imei_base: 350_000_000_000_000,
            send_interval: Duration::from_secs(1),
            max_records_per_frame: 50,
            ack_timeout: Duration::from_secs(30),
            buffer_records: 10_000,
            drain: Duration::from_secs(10),
            progress: false,
            ws: None,
            sources: 0,
        }
    }
}

/// Live counters shared by the devices.
#[derive(Default)]
pub struct Progress {
    pub connected: AtomicI64,
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub resent: AtomicU64,
    pub rejected: AtomicU64,
    pub errors: AtomicU64,
}

/// The closing summary (`--json` prints it as the last line of stdout).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub devices: usize,
    pub sent: u64,
    pub acked: u64,
    pub resent: u64,
    pub frames: u64,
    pub records_per_s: f64,
    pub ack_p50_ms: f64,
    pub ack_p99_ms: f64,
    pub ack_max_ms: f64,
    pub elapsed_s: f64,
    pub login_rejected: u64,
    pub errors: u64,
    /// Logins accepted, and the time from connecting to the accepted login.
    pub logins: u64,
    pub login_p99_ms: f64,
    pub login_max_ms: f64,
    /// Pushes received by the WebSocket client (with `ws`), and frame → push latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ws_received: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ws_p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ws_p99_ms: Option<f64>,
}

/// The summary and each device's report.
pub struct Report {
    pub summary: Summary,
    pub devices: Vec<DeviceReport>,
}

pub(crate) fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1]) / 1000.0
}

/// Devices on one local address, at most, when the simulator picks how many to use.
const DEVICES_PER_SOURCE: usize = 20_000;

/// The local addresses the devices connect from: none (the system's choice) unless the
/// target is on IPv4 loopback and the devices need more ports than one address has, or
/// `sources` asks.
fn source_addresses(opts: &Options) -> anyhow::Result<Vec<std::net::IpAddr>> {
    let std::net::IpAddr::V4(target) = opts.target.ip() else {
        anyhow::ensure!(opts.sources <= 1, "--sources needs an IPv4 loopback target");
        return Ok(Vec::new());
    };
    let n = match opts.sources {
        0 if target.is_loopback() => opts.devices.div_ceil(DEVICES_PER_SOURCE),
        0 => 1,
        n => n,
    };
    if n <= 1 {
        return Ok(Vec::new());
    }
    anyhow::ensure!(
        target.is_loopback(),
        "--sources spreads over 127.0.0.0/8: the target must be on loopback"
    );
    anyhow::ensure!(n <= 65_000, "--sources must be at most 65000");
    Ok((0..n)
        .map(|k| {
            std::net::IpAddr::V4(std::net::Ipv4Addr::new(
                127,
                0,
                (k / 250) as u8,
                (k % 250 + 1) as u8,
            ))
        })
        .collect())
}

/// Runs the simulation on the current tokio runtime.
pub async fn run(opts: Options) -> anyhow::Result<Report> {
    anyhow::ensure!(opts.devices > 0, "--devices must be at least 1");
    anyhow::ensure!(
        opts.rate >= 0.0 && opts.rate.is_finite(),
        "--rate must be a number ≥ 0 (0: log in and stay idle)"
    );
    anyhow::ensure!(
        (1..=255).contains(&opts.max_records_per_frame),
        "records per frame must be 1..=255"
    );
    let sources = source_addresses(&opts)?;
    let opts = Arc::new(opts);
    let progress = Arc::new(Progress::default());
    let buses: Vec<Arc<Bus>> = LINES
        .iter()
        .map(|l| Arc::new(Bus::new(l, 32.0, 20.0)))
        .collect();
    let started = Instant::now();
    let deadline = started + opts.duration;
    let drain_deadline = deadline + opts.drain;

    let sent_at = SentAt::default();
    let watcher = opts
        .ws
        .as_ref()
        .map(|url| tokio::spawn(ws_watch(url.clone(), sent_at.clone(), drain_deadline)));
    if watcher.is_some() {
        // Let the subscription land before the first frame.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut handles = Vec::with_capacity(opts.devices);
    for i in 0..opts.devices {
        let imei = Imei::from_number(opts.imei_base + i as u64)?;
        let spec = DeviceSpec {
            imei,
            bus: buses[i % buses.len()].clone(),
            offset_s: (i / buses.len()) as f64 * 97.0,
            fuel_start_l: 150.0 + (i % 50) as f64,
            source: (!sources.is_empty()).then(|| sources[i % sources.len()]),
        };
        let sent_at = opts.ws.is_some().then(|| sent_at.clone());
        handles.push(tokio::spawn(device::run(
            spec,
            opts.clone(),
            progress.clone(),
            deadline,
            drain_deadline,
            sent_at,
        )));
    }

    let printer = opts.progress.then(|| {
        let progress = progress.clone();
        let devices = opts.devices;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut last = 0;
            loop {
                tick.tick().await;
                let acked = progress.acked.load(Ordering::Relaxed);
                eprintln!(
                    "[{:>5.1}s] connected {}/{} sent {} acked {} ({}/s) resent {} errors {}",
                    started.elapsed().as_secs_f64(),
                    progress.connected.load(Ordering::Relaxed),
                    devices,
                    progress.sent.load(Ordering::Relaxed),
                    acked,
                    acked - last,
                    progress.resent.load(Ordering::Relaxed),
                    progress.errors.load(Ordering::Relaxed),
                );
                last = acked;
            }
        })
    });

    let mut devices = Vec::with_capacity(handles.len());
    for h in handles {
        devices.push(h.await?);
    }
    if let Some(p) = printer {
        p.abort();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ws = match watcher {
        Some(w) => {
            // Pushes in flight arrive within moments of the last ACK.
            tokio::time::sleep(Duration::from_millis(500)).await;
            w.abort();
            let mut lat = std::mem::take(
                &mut *sent_at
                    .latencies
                    .lock()
                    .map_err(|_poisoned| anyhow::anyhow!("latency lock"))?,
            );
            lat.sort_unstable();
            Some((
                lat.len() as u64,
                percentile_ms(&lat, 50.0),
                percentile_ms(&lat, 99.0),
            ))
        }
        None => None,
    };
    let mut latencies: Vec<u32> = devices
        .iter()
        .flat_map(|d| d.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let mut logins: Vec<u32> = devices
        .iter()
        .flat_map(|d| d.logins_us.iter().copied())
        .collect();
    logins.sort_unstable();
    let acked: u64 = devices.iter().map(|d| d.acked).sum();
    let summary = Summary {
        devices: devices.len(),
        sent: devices.iter().map(|d| d.sent).sum(),
        acked,
        resent: devices.iter().map(|d| d.resent).sum(),
        frames: devices.iter().map(|d| d.frames).sum(),
        records_per_s: acked as f64 / elapsed.max(1e-9),
        ack_p50_ms: percentile_ms(&latencies, 50.0),
        ack_p99_ms: percentile_ms(&latencies, 99.0),
        ack_max_ms: latencies.last().map_or(0.0, |&v| f64::from(v) / 1000.0),
        elapsed_s: elapsed,
        login_rejected: devices.iter().filter(|d| d.login_rejected).count() as u64,
        errors: devices.iter().map(|d| d.errors).sum(),
        logins: logins.len() as u64,
        login_p99_ms: percentile_ms(&logins, 99.0),
        login_max_ms: logins.last().map_or(0.0, |&v| f64::from(v) / 1000.0),
        ws_received: ws.map(|w| w.0),
        ws_p50_ms: ws.map(|w| w.1),
        ws_p99_ms: ws.map(|w| w.2),
    };
    Ok(Report { summary, devices })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_devices_past_one_address_ports_spread_over_127_slash_8() {
        let mut o = Options::new("127.0.0.1:5000".parse().unwrap());
        o.devices = 10_000;
        assert!(source_addresses(&o).unwrap().is_empty());
        o.devices = 50_000;
        let s = source_addresses(&o).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[2], std::net::IpAddr::from([127, 0, 0, 3]));
        o.sources = 300;
        let s = source_addresses(&o).unwrap();
        assert_eq!(s[250], std::net::IpAddr::from([127, 0, 1, 1]));
        let mut remote = Options::new("192.0.2.1:5000".parse().unwrap());
        remote.devices = 50_000;
        assert!(source_addresses(&remote).unwrap().is_empty());
        remote.sources = 2;
        assert!(source_addresses(&remote).is_err());
    }

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 50.0);
        assert_eq!(percentile_ms(&v, 99.0), 99.0);
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
        assert_eq!(percentile_ms(&[7000], 50.0), 7.0);
    }
}

/// When each frame (device, device time of its newest record) was written, and the measured
/// frame → push latencies in microseconds.
#[derive(Clone, Default)]
pub struct SentAt {
    pending: Arc<std::sync::Mutex<std::collections::HashMap<(Imei, u64), Instant>>>,
    latencies: Arc<std::sync::Mutex<Vec<u32>>>,
}

impl SentAt {
    pub fn record(&self, imei: Imei, ts: u64) {
        if let Ok(mut p) = self.pending.lock() {
            p.insert((imei, ts), Instant::now());
        }
    }

    fn received(&self, imei: Imei, ts: u64) {
        let sent = self
            .pending
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&(imei, ts)));
        if let (Some(at), Ok(mut l)) = (sent, self.latencies.lock()) {
            l.push(at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        }
    }
}

/// A WebSocket client subscribed to `fleet`, timing each push against its frame.
async fn ws_watch(url: String, sent_at: SentAt, until: Instant) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
        eprintln!("WebSocket {url} not reachable; no latency figures");
        return;
    };
    let subscribe = serde_json::json!({ "op": "subscribe", "topics": ["fleet"] }).to_string();
    if ws.send(Message::Text(subscribe.into())).await.is_err() {
        return;
    }
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until.into(), ws.next()).await {
        let Message::Text(text) = msg else { continue };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if v["type"] != "telemetry" {
            continue;
        }
        let imei = v["data"]["imei"]
            .as_str()
            .and_then(|s| s.parse::<Imei>().ok());
        let ts = v["data"]["device_time"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.timestamp_millis() as u64);
        if let (Some(imei), Some(ts)) = (imei, ts) {
            sent_at.received(imei, ts);
        }
    }
}
