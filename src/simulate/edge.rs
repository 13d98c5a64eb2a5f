//! `urbanstream simulate edge`: real MQTT edge nodes (rumqttc) — a birth (retained) with a
//! last will, heartbeats, metrics, detections of people, cars and bicycles moving across
//! each camera's frame, consensus rounds, and now and then a node dropping off (its last
//! will) and coming back with a new boot. Live progress; a summary with published,
//! acknowledged (PUBACK) and, given the database, stored; publish → PUBACK and, given a
//! WebSocket, publish → push latency.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use serde::Serialize;
use serde_json::json;

use super::percentile_ms;

#[derive(Debug, Clone)]
pub struct EdgeOptions {
    pub nodes: usize,
    /// Detection messages per second per node.
    pub rate: f64,
    /// Detections in each message.
    pub detections: usize,
    pub duration: Duration,
    pub broker: SocketAddr,
    /// Node ids are `{prefix}{n}`.
    pub prefix: String,
    pub heartbeat_every: Duration,
    /// On average, one node in this many drops off (and comes back) per minute; 0: never.
    pub drop_one_in: usize,
    /// After `duration`, how long to wait for the last PUBACKs.
    pub drain: Duration,
    pub progress: bool,
    /// A WebSocket URL with a token: a client subscribed to `detections` times each push.
    pub ws: Option<String>,
    /// The server's database: count what was stored.
    pub database: Option<String>,
    /// Node credentials (production): password = this API key, username = the node id.
    pub api_key: Option<String>,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    acked: AtomicU64,
    detections_acked: AtomicU64,
    drops: AtomicU64,
    errors: AtomicU64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EdgeSummary {
    pub nodes: usize,
    pub published: u64,
    pub acknowledged: u64,
    /// Detections in acknowledged messages.
    pub detections_acknowledged: u64,
    /// Detections of these nodes in the database (with `database`).
    pub detections_stored: Option<u64>,
    pub messages_per_s: f64,
    pub detections_per_s: f64,
    pub puback_p50_ms: f64,
    pub puback_p99_ms: f64,
    pub puback_max_ms: f64,
    pub drops: u64,
    pub errors: u64,
    pub ws_received: Option<u64>,
    pub ws_p50_ms: Option<f64>,
    pub ws_p99_ms: Option<f64>,
}

/// What a node publishes next, and how many detections it carries.
fn detection_message(node: &str, boot: i64, seq: i64, n: usize, t: f64) -> (Vec<u8>, usize) {
    const KINDS: [&str; 3] = ["person", "car", "bicycle"];
    let sent_us = chrono::Utc::now().timestamp_micros();
    let list: Vec<_> = (0..n)
        .map(|i| {
            let kind = KINDS[(seq as usize + i) % 3];
            let speed = match kind {
                "person" => 0.05,
                "bicycle" => 0.12,
                _ => 0.25,
            };
            // Boxes crossing the frame left to right, one lane each.
            let x = (t * speed + i as f64 * 0.17).fract();
            json!({
                "stream_id": format!("{node}-cam0"), "object_type": kind,
                "confidence": 0.55 + 0.4 * ((seq as f64 * 0.37 + i as f64).sin().abs()),
                "bbox": {"x": x, "y": 0.2 + 0.15 * (i % 4) as f64, "width": 0.08, "height": 0.2, "normalized": true},
                "location": "entrance",
                "metadata": {"track_id": seq * 16 + i as i64, "sent_us": sent_us},
            })
        })
        .collect();
    let body = json!({
        "node_id": node, "timestamp": chrono::Utc::now().timestamp_millis(),
        "boot": boot, "seq": seq, "detections": list,
    });
    (body.to_string().into_bytes(), n)
}

struct Latencies(Mutex<Vec<u32>>);

async fn node(
    id: String,
    o: Arc<EdgeOptions>,
    c: Arc<Counters>,
    lat: Arc<Latencies>,
    until: Instant,
) {
    let mut boot = 1i64;
    let mut rng = rand::rngs::SmallRng::from_rng(&mut rand::rng());
    while Instant::now() < until {
        let status = format!("edge-qi/nodes/{id}/status");
        let mut options = MqttOptions::new(&id, o.broker.ip().to_string(), o.broker.port());
        options
            .set_keep_alive(Duration::from_secs(15))
            .set_inflight(200)
            .set_last_will(LastWill::new(
                &status,
                json!({"node_id": id, "status": "offline"}).to_string(),
                QoS::AtLeastOnce,
                false,
            ));
        if let Some(key) = &o.api_key {
            options.set_credentials(&id, key);
        }
        let (client, mut eventloop) = AsyncClient::new(options, 1000);
        // Each message leaves at once: with Nagle's algorithm a small PUBLISH waits for the
        // TCP acknowledgement of the one before (up to the peer's delayed-ACK timeout).
        let mut net = rumqttc::NetworkOptions::new();
        net.set_tcp_nodelay(true);
        eventloop.set_network_options(net);
        // pkid → (published at, detections): PUBACKs come back in order.
        let pending: Arc<Mutex<std::collections::HashMap<u16, (Instant, usize)>>> = Arc::default();
        let sizes: Arc<Mutex<std::collections::VecDeque<usize>>> = Arc::default();
        let leaving = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (pending2, sizes2, c2, lat2, leaving2) = (
            pending.clone(),
            sizes.clone(),
            c.clone(),
            lat.clone(),
            leaving.clone(),
        );
        let driver = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        let n = sizes2
                            .lock()
                            .ok()
                            .and_then(|mut s| s.pop_front())
                            .unwrap_or(0);
                        if let Ok(mut p) = pending2.lock() {
                            p.insert(pkid, (Instant::now(), n));
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(a))) => {
                        let sent = pending2.lock().ok().and_then(|mut p| p.remove(&a.pkid));
                        if let Some((at, n)) = sent {
                            c2.acked.fetch_add(1, Ordering::Relaxed);
                            c2.detections_acked.fetch_add(n as u64, Ordering::Relaxed);
                            if let Ok(mut l) = lat2.0.lock() {
                                l.push(at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if leaving2.load(Ordering::Relaxed) {
                            return;
                        }
                        c2.errors.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("edge node connection: {e}");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        let publish = |topic: String, body: Vec<u8>, n: usize, retain: bool| {
            let (client, sizes, c) = (client.clone(), sizes.clone(), c.clone());
            async move {
                if let Ok(mut s) = sizes.lock() {
                    s.push_back(n);
                }
                if client
                    .publish(topic, QoS::AtLeastOnce, retain, body)
                    .await
                    .is_ok()
                {
                    c.published.fetch_add(1, Ordering::Relaxed);
                }
            }
        };
        let mut seq = 0i64;
        let birth = json!({"node_id": id, "status": "online", "boot": boot, "seq": seq,
            "capabilities": {"detector": "yolov8n-int8", "streams": 1, "fps": 15}});
        publish(status.clone(), birth.to_string().into_bytes(), 0, true).await;
        let started = Instant::now();
        let every = Duration::from_secs_f64(1.0 / o.rate);
        let mut next_detection = Instant::now() + every.mul_f64(rng.random_range(0.0..1.0));
        let mut next_heartbeat = Instant::now();
        let mut next_metrics = Instant::now() + Duration::from_secs(10);
        let mut next_round = Instant::now() + Duration::from_secs(30);
        let mut next_drop_check = Instant::now() + Duration::from_secs(60);
        let mut dropped = false;
        loop {
            let now = Instant::now();
            if now >= until {
                break;
            }
            let wake = next_detection
                .min(next_heartbeat)
                .min(next_metrics)
                .min(next_round)
                .min(next_drop_check)
                .min(until);
            tokio::time::sleep_until(wake.into()).await;
            let now = Instant::now();
            if now >= next_heartbeat {
                seq += 1;
                let load = 20.0 + 60.0 * (started.elapsed().as_secs_f64() / 40.0).sin().abs();
                let hb = json!({"node_id": id, "timestamp": chrono::Utc::now().to_rfc3339(),
                    "cpu_usage": load, "memory_usage": 30.0 + load / 3.0, "status": "active",
                    "network_status": "good", "energy_consumption": 6.5 + load / 20.0, "boot": boot, "seq": seq});
                publish(
                    format!("edge-qi/nodes/{id}/heartbeat"),
                    hb.to_string().into_bytes(),
                    0,
                    false,
                )
                .await;
                next_heartbeat += o.heartbeat_every;
            }
            if now >= next_metrics {
                seq += 1;
                let m = json!({"node_id": id, "timestamp": chrono::Utc::now().timestamp_millis(),
                    "latency_ms": 18.0 + rng.random_range(0.0..12.0), "bandwidth_saved": started.elapsed().as_secs_f64() * 1.5e5,
                    "energy_saved": started.elapsed().as_secs_f64() * 0.2, "fps": 15, "boot": boot, "seq": seq});
                publish(
                    format!("edge-qi/metrics/{id}"),
                    m.to_string().into_bytes(),
                    0,
                    false,
                )
                .await;
                next_metrics += Duration::from_secs(10);
            }
            if now >= next_round {
                seq += 1;
                let votes: serde_json::Map<String, serde_json::Value> = (0..3)
                    .map(|v| {
                        (
                            format!("{id}-peer{v}"),
                            json!(if rng.random_range(0..10) < 8 {
                                "congested"
                            } else {
                                "clear"
                            }),
                        )
                    })
                    .collect();
                let round = json!({"node_id": id, "timestamp": chrono::Utc::now().timestamp_millis(),
                    "round_number": seq, "votes": votes, "result": "congested", "participants": 3,
                    "duration_ms": 40, "success": true, "boot": boot, "seq": seq});
                publish(
                    format!("edge-qi/consensus/{id}"),
                    round.to_string().into_bytes(),
                    0,
                    false,
                )
                .await;
                next_round += Duration::from_secs(30);
            }
            if now >= next_detection {
                seq += 1;
                let (body, n) = detection_message(
                    &id,
                    boot,
                    seq,
                    o.detections,
                    started.elapsed().as_secs_f64(),
                );
                publish(format!("edge-qi/detection/{id}"), body, n, false).await;
                next_detection += every;
                if next_detection + every * 10 < Instant::now() {
                    // Far behind (an overloaded machine): skip rather than burst.
                    next_detection = Instant::now() + every;
                }
            }
            if now >= next_drop_check {
                next_drop_check += Duration::from_secs(60);
                if o.drop_one_in > 0 && rng.random_range(0..o.drop_one_in) == 0 {
                    dropped = true;
                    break;
                }
            }
        }
        if dropped {
            // Gone without a DISCONNECT: the broker publishes the last will.
            c.drops.fetch_add(1, Ordering::Relaxed);
            driver.abort();
            tokio::time::sleep(Duration::from_secs(rng.random_range(2..8))).await;
            boot += 1;
            continue;
        }
        // Wait for the last PUBACKs, then leave cleanly.
        let drain = Instant::now() + o.drain;
        while Instant::now() < drain && pending.lock().map(|p| !p.is_empty()).unwrap_or(false) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        leaving.store(true, Ordering::Relaxed);
        let _ = client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        driver.abort();
        return;
    }
}

/// A WebSocket client subscribed to `detections`: publish → push latency from each
/// detection's `sent_us`, into `out` (read when the run ends).
async fn ws_watch(url: String, until: Instant, out: Arc<Latencies>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
        eprintln!("WebSocket {url} not reachable; no push latency");
        return;
    };
    let subscribe = json!({ "op": "subscribe", "topics": ["detections"] }).to_string();
    if ws.send(Message::Text(subscribe.into())).await.is_err() {
        return;
    }
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until.into(), ws.next()).await {
        let Message::Text(text) = msg else { continue };
        let now = chrono::Utc::now().timestamp_micros();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if v["type"] != "detection_result" {
            continue;
        }
        if let Some(sent) = v["data"]["detections"][0]["metadata"]["sent_us"].as_i64() {
            if let Ok(mut l) = out.0.lock() {
                l.push((now - sent).clamp(0, i64::from(u32::MAX)) as u32);
            }
        }
    }
}

/// Runs the simulation on the current tokio runtime.
pub async fn run(o: EdgeOptions) -> anyhow::Result<EdgeSummary> {
    anyhow::ensure!(o.nodes > 0, "--nodes must be at least 1");
    anyhow::ensure!(
        o.rate > 0.0 && o.rate.is_finite(),
        "--rate must be a positive number"
    );
    anyhow::ensure!(
        (1..=256).contains(&o.detections),
        "--detections must be 1..=256"
    );
    let o = Arc::new(o);
    let c = Arc::new(Counters::default());
    let lat = Arc::new(Latencies(Mutex::new(Vec::new())));
    let started = Instant::now();
    let until = started + o.duration;
    let pushes = Arc::new(Latencies(Mutex::new(Vec::new())));
    let watcher =
        o.ws.clone()
            .map(|url| tokio::spawn(ws_watch(url, until + o.drain, pushes.clone())));
    if watcher.is_some() {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut tasks = Vec::with_capacity(o.nodes);
    for n in 0..o.nodes {
        let id = format!("{}{n}", o.prefix);
        tasks.push(tokio::spawn(node(
            id,
            o.clone(),
            c.clone(),
            lat.clone(),
            until,
        )));
        if n % 50 == 49 {
            // Connect in waves, as a fleet coming up does.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let progress = o.progress.then(|| {
        let c = c.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut last = 0;
            loop {
                tick.tick().await;
                let acked = c.acked.load(Ordering::Relaxed);
                eprintln!(
                    "published {} | acknowledged {} ({}/s) | drops {} | errors {}",
                    c.published.load(Ordering::Relaxed),
                    acked,
                    acked - last,
                    c.drops.load(Ordering::Relaxed),
                    c.errors.load(Ordering::Relaxed),
                );
                last = acked;
            }
        })
    });
    for t in tasks {
        let _ = t.await;
    }
    if let Some(p) = progress {
        p.abort();
    }
    let elapsed = started
        .elapsed()
        .as_secs_f64()
        .min(o.duration.as_secs_f64())
        .max(1e-3);
    let ws = match watcher {
        Some(w) => {
            // Pushes of the last acknowledged messages are on their way.
            tokio::time::sleep(Duration::from_millis(500)).await;
            w.abort();
            let mut l = pushes.0.lock().map(|l| l.clone()).unwrap_or_default();
            l.sort_unstable();
            Some(l)
        }
        None => None,
    };
    let mut l = lat.0.lock().map(|l| l.clone()).unwrap_or_default();
    l.sort_unstable();
    let stored = match &o.database {
        Some(url) => {
            let store = urbanstream_schema::store::Store::open(url, 2).await?;
            Some(store.detections_of_prefix(&o.prefix).await? as u64)
        }
        None => None,
    };
    let acked = c.acked.load(Ordering::Relaxed);
    let det = c.detections_acked.load(Ordering::Relaxed);
    Ok(EdgeSummary {
        nodes: o.nodes,
        published: c.published.load(Ordering::Relaxed),
        acknowledged: acked,
        detections_acknowledged: det,
        detections_stored: stored,
        messages_per_s: acked as f64 / elapsed,
        detections_per_s: det as f64 / elapsed,
        puback_p50_ms: percentile_ms(&l, 50.0),
        puback_p99_ms: percentile_ms(&l, 99.0),
        puback_max_ms: l.last().map_or(0.0, |v| f64::from(*v) / 1000.0),
        drops: c.drops.load(Ordering::Relaxed),
        errors: c.errors.load(Ordering::Relaxed),
        ws_received: ws.as_ref().map(|w| w.len() as u64),
        ws_p50_ms: ws.as_ref().map(|w| percentile_ms(w, 50.0)),
        ws_p99_ms: ws.as_ref().map(|w| percentile_ms(w, 99.0)),
    })
}
