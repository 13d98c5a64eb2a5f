//! The dispatch dashboard: served by the binary (validators, compression, a strict CSP), the
//! WebSocket viewport it subscribes with, and the page itself in headless Chromium against a
//! real server: sign-in, live vehicles, an alert within a second, acknowledgement by role, a
//! robot's stop button, people crossing the floor plan, and reconnection after a server
//! restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::browser::Browser;
use common::mqtt::{free_port, MqttNode, NodeOptions};
use common::scene::{camera, frame_message, pose, two_walkers};
use common::{fix, imei, now_ms, settings, TestApp};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use urbanstream::simulate::robots;
use urbanstream_actors::teltonika::codec::{encode_avl_frame, CodecId, IoElement, IoValue};

const LAT: f64 = 44.7722;
const LON: f64 = 17.191;
const WAIT: Duration = Duration::from_secs(15);

/// Where screenshots go when `URBANSTREAM_SCREENSHOTS` names a directory.
fn shot(name: &str) -> Option<PathBuf> {
    std::env::var_os("URBANSTREAM_SCREENSHOTS")
        .map(|d| PathBuf::from(d).join(format!("{name}.png")))
}

/// One record `north_m` north of the centre at `speed` km/h, ignition on, sent and acked.
async fn drive(dev: &mut common::RawDevice, north_m: f64, speed: u16) {
    let io = vec![IoElement {
        id: 239,
        value: IoValue::U8(1),
    }];
    let rec = fix(now_ms(), LAT + north_m / 111_195.0, LON, speed, io);
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[rec]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
}

/// A raw GET with extra headers; the response head (lower case) and body bytes.
async fn raw_get(app: &TestApp, path: &str, headers: &str) -> (String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(app.server.http_addr)
        .await
        .unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8_lossy(&raw[..end]).to_lowercase(),
        raw[end + 4..].to_vec(),
    )
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[actix_rt::test]
async fn the_page_and_its_files_are_served_with_validators_compression_and_a_strict_csp() {
    let app = TestApp::start(settings(|_| {})).await;
    let (head, body) = raw_get(&app, "/", "").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains(r#"<script type="module" src="/assets/app.js">"#));
    assert!(!html.contains("<script>"), "no inline script");
    let csp = header(&head, "content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe"),
        "{csp}"
    );
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    let etag = header(&head, "etag").unwrap().to_owned();
    assert_eq!(header(&head, "cache-control"), Some("no-cache"));

    // The same version again: 304, no body.
    let (head, body) = raw_get(&app, "/", &format!("If-None-Match: {etag}\r\n")).await;
    assert!(head.starts_with("http/1.1 304"), "{head}");
    assert!(body.is_empty());

    // Compressed when the client takes gzip.
    let (plain_head, plain) = raw_get(&app, "/assets/app.js", "").await;
    assert_eq!(
        header(&plain_head, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let (head, gz) = raw_get(&app, "/assets/app.js", "Accept-Encoding: gzip\r\n").await;
    assert_eq!(header(&head, "content-encoding"), Some("gzip"), "{head}");
    let chunked = header(&head, "transfer-encoding") == Some("chunked");
    let gz = if chunked { dechunk(&gz) } else { gz };
    assert!(
        gz.len() < plain.len() / 2,
        "gzip {} of {}",
        gz.len(),
        plain.len()
    );
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unzipped).unwrap();
    assert_eq!(unzipped, plain);

    let (head, _) = raw_get(&app, "/assets/nothing.js", "").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    let (status, body) = app.request_as(None, "GET", "/dashboard.json", None).await;
    assert_eq!(status, 200);
    let cfg: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(cfg["tile_url"], "", "offline by default");
}

#[actix_rt::test]
async fn a_tile_server_is_named_in_the_csp_and_a_disabled_dashboard_is_not_served() {
    let app = TestApp::start(settings(|s| {
        s.dashboard.tile_url = "https://tiles.example.org/{z}/{x}/{y}.png".into();
    }))
    .await;
    let (head, _) = raw_get(&app, "/", "").await;
    let csp = header(&head, "content-security-policy").unwrap();
    assert!(
        csp.contains("img-src 'self' data: blob: https://tiles.example.org"),
        "{csp}"
    );
    app.server.stop().await;

    let app = TestApp::start(settings(|s| s.dashboard.enabled = false)).await;
    let (head, _) = raw_get(&app, "/", "").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 2 + n + 2..];
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next frame of `type` within `wait`.
async fn next_of(ws: &mut Ws, kind: &str, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == kind {
                return Some(v);
            }
        }
    }
    None
}

#[actix_rt::test]
async fn a_viewport_subscription_brings_only_the_vehicles_in_its_area() {
    let app = TestApp::start(settings(|_| {})).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({"op": "subscribe", "topics": ["fleet"]})))
        .await
        .unwrap();
    // Bad areas are refused with a reason.
    ws.send(send(
        json!({"op": "viewport", "bbox": [17.0, 45.0, 18.0, 44.0]}),
    ))
    .await
    .unwrap();
    let err = next_of(&mut ws, "error", WAIT).await.unwrap();
    assert!(
        err["error"]["message"].as_str().unwrap().contains("south"),
        "{err}"
    );
    // A box around the first 2 km north of the centre.
    ws.send(send(
        json!({"op": "viewport", "bbox": [LON - 0.05, LAT - 0.001, LON + 0.05, LAT + 0.018]}),
    ))
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = next_of(&mut ws, "status", WAIT).await.unwrap();
        if v["data"].get("viewport").is_some() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
    }
    let mut inside = app.device().await;
    assert_eq!(inside.login(imei(356_307_042_441_001)).await, 1);
    let mut outside = app.device().await;
    assert_eq!(outside.login(imei(356_307_042_441_002)).await, 1);
    drive(&mut outside, 5000.0, 30).await;
    drive(&mut inside, 500.0, 30).await;
    let got = next_of(&mut ws, "telemetry", WAIT).await.unwrap();
    assert_eq!(got["data"]["imei"], "356307042441001", "{got}");
    // The inside one leaves: one last update; then nothing more of it.
    drive(&mut inside, 4000.0, 30).await;
    let last = next_of(&mut ws, "telemetry", WAIT).await.unwrap();
    assert_eq!(last["data"]["imei"], "356307042441001");
    drive(&mut inside, 4100.0, 30).await;
    drive(&mut outside, 5100.0, 30).await;
    assert!(
        next_of(&mut ws, "telemetry", Duration::from_millis(500))
            .await
            .is_none(),
        "vehicles outside the area are not sent"
    );
    // Lifted: everything again.
    ws.send(send(json!({"op": "viewport", "bbox": null})))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drive(&mut outside, 5200.0, 30).await;
    let v = next_of(&mut ws, "telemetry", WAIT).await.unwrap();
    assert_eq!(v["data"]["imei"], "356307042441002");
}

#[actix_rt::test]
async fn a_viewport_asked_before_the_subscription_holds_from_it_on() {
    let app = TestApp::start(settings(|_| {})).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(
        json!({"op": "viewport", "bbox": [LON - 0.05, LAT - 0.001, LON + 0.05, LAT + 0.018]}),
    ))
    .await
    .unwrap();
    ws.send(send(json!({"op": "subscribe", "topics": ["fleet"]})))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = next_of(&mut ws, "status", WAIT).await.unwrap();
        if v["data"].get("subscribed").is_some() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
    }
    let mut outside = app.device().await;
    assert_eq!(outside.login(imei(356_307_042_441_002)).await, 1);
    let mut inside = app.device().await;
    assert_eq!(inside.login(imei(356_307_042_441_001)).await, 1);
    drive(&mut outside, 5000.0, 30).await;
    drive(&mut inside, 500.0, 30).await;
    let got = next_of(&mut ws, "telemetry", WAIT).await.unwrap();
    assert_eq!(got["data"]["imei"], "356307042441001", "{got}");
    drive(&mut outside, 5100.0, 30).await;
    assert!(
        next_of(&mut ws, "telemetry", Duration::from_millis(500))
            .await
            .is_none(),
        "the area asked first keeps the vehicles outside it away"
    );
}

/// Creates a user with `role` and returns its password.
async fn user(app: &TestApp, name: &str, role: &str) -> String {
    let password = format!("{name}-password");
    let (s, b) = app
        .request(
            "POST",
            "/api/v1/users",
            Some(&json!({"username": name, "password": password, "role": role})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    password
}

async fn sign_out(b: &Browser) {
    b.eval("document.getElementById('signout').click()").await;
    b.wait_for("!document.getElementById('login').hidden", WAIT)
        .await;
}

#[actix_rt::test]
async fn a_dispatcher_watches_vehicles_move_and_acknowledges_an_alert_raised_within_a_second() {
    let app = TestApp::start(settings(|_| {})).await;
    let base = format!("http://{}", app.server.http_addr);
    let dispatcher = user(&app, "dana", "DISPATCHER").await;
    let analyst = user(&app, "ana", "ANALYST").await;
    let viewer = user(&app, "vic", "VIEWER").await;
    let id = imei(356_307_042_441_001);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    drive(&mut dev, 0.0, 20).await;

    let b = Browser::start().await;
    b.goto(&format!("{base}/")).await;
    b.sign_in("dana", &dispatcher).await;
    let sel = format!("#vehicle-list button[data-imei='{id}']");
    b.wait_for(&format!("document.querySelector(\"{sel}\")"), WAIT)
        .await;
    b.wait_for(
        "document.getElementById('conn').dataset.state === 'live'",
        WAIT,
    )
    .await;
    let before = b
        .eval(&format!("urbanstreamMap.vehicles.get('{id}').lat"))
        .await
        .as_f64()
        .unwrap();
    drive(&mut dev, 300.0, 30).await;
    b.wait_for(
        &format!(
            "urbanstreamMap.vehicles.get('{id}').lat > {}",
            before + 0.002
        ),
        WAIT,
    )
    .await;
    assert_eq!(
        b.eval(&format!("urbanstreamMap.vehicles.get('{id}').state"))
            .await,
        "moving"
    );
    // Simulated buses (the simulator's trackers over TCP) appear and drive.
    b.eval("urbanstreamMap.zoomAt(-3); true").await;
    let mut sim = urbanstream::simulate::Options::new(app.server.teltonika_addr);
    sim.devices = 3;
    sim.imei_base = 356_307_042_441_002;
    sim.rate = 2.0;
    sim.send_interval = Duration::from_millis(500);
    sim.duration = Duration::from_secs(60);
    let sim = tokio::spawn(urbanstream::simulate::run(sim));
    let buses = "['356307042441002', '356307042441003', '356307042441004']";
    b.wait_for(
        &format!("{buses}.every((i) => urbanstreamMap.vehicles.has(i))"),
        WAIT,
    )
    .await;
    b.eval(&format!(
        "window.seenAt = {buses}.map((i) => {{ const v = urbanstreamMap.vehicles.get(i); return [v.lat, v.lon]; }}); true"
    ))
    .await;
    b.wait_for(
        &format!("{buses}.some((i, n) => {{ const v = urbanstreamMap.vehicles.get(i); return v.lat !== seenAt[n][0] || v.lon !== seenAt[n][1]; }})"),
        WAIT,
    )
    .await;
    b.wait_for(
        "document.querySelectorAll('#vehicle-list button').length >= 4",
        WAIT,
    )
    .await;
    if let Some(p) = shot("map") {
        b.screenshot(&p).await;
    }
    sim.abort();
    let _ = sim.await;

    // The rule comes after the buses stopped reporting: the only breach is the one below.
    app.created(
        "/api/v1/alerts/rules",
        json!({"name": "Speeding", "kind": "OVERSPEED", "severity": "CRITICAL", "cooldown_s": 0,
            "params": {"limit_kmh": 40, "min_duration_s": 0}}),
    )
    .await;

    // The alert list: a breach appears within a second of the device's ACK.
    b.eval("location.hash = '#/alerts'").await;
    b.wait_for(
        "document.querySelector('#alert-table p, #alert-table table')",
        WAIT,
    )
    .await;
    drive(&mut dev, 600.0, 70).await;
    let row = "document.querySelector('tr[data-kind=\"OVERSPEED\"][data-status=\"ACTIVE_UNACK\"]')";
    let took = b.wait_for(row, Duration::from_secs(5)).await;
    assert!(
        took < Duration::from_secs(1),
        "the alert showed after {took:?}"
    );
    b.wait_for("!document.getElementById('critical').hidden", WAIT)
        .await;
    if let Some(p) = shot("alerts") {
        b.screenshot(&p).await;
    }
    b.eval("document.querySelector('tr[data-kind=\"OVERSPEED\"] button.ack').click()")
        .await;
    b.wait_for(
        "document.querySelector('tr[data-kind=\"OVERSPEED\"][data-status=\"ACTIVE_ACK\"]')",
        WAIT,
    )
    .await;
    b.wait_for("document.getElementById('critical').hidden", WAIT)
        .await;
    let (_, list) = app.get("/api/v1/alerts?kind=OVERSPEED").await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["items"][0]["acknowledged_by"], "dana", "{list}");

    // An analyst sees the alert but may not acknowledge it.
    sign_out(&b).await;
    b.sign_in("ana", &analyst).await;
    b.eval("location.hash = '#/alerts'").await;
    b.wait_for(
        "document.querySelector('tr[data-kind=\"OVERSPEED\"]')",
        WAIT,
    )
    .await;
    assert_eq!(
        b.eval("document.querySelectorAll('button.ack, button.clear').length")
            .await,
        0
    );
    // A viewer has no alerts view at all.
    sign_out(&b).await;
    b.sign_in("vic", &viewer).await;
    assert_eq!(
        b.eval("!!document.querySelector('nav a[data-view=\"alerts\"]')")
            .await,
        false
    );
    assert_eq!(
        b.eval("document.querySelectorAll('button.ack').length")
            .await,
        0
    );
    let console = b.console.lock().unwrap().clone();
    assert!(console.is_empty(), "page errors: {console:?}");
}

/// One fix `north_m` north of the centre at `t_ms`, with the ignition as given; acked.
async fn fix_at(dev: &mut common::RawDevice, t_ms: u64, north_m: f64, speed: u16, ignition: bool) {
    let io = vec![IoElement {
        id: 239,
        value: IoValue::U8(u8::from(ignition)),
    }];
    let rec = fix(t_ms, LAT + north_m / 111_195.0, LON, speed, io);
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[rec]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
}

#[actix_rt::test]
async fn an_analyst_watches_edge_nodes_and_downloads_a_trip_report() {
    let app = TestApp::start(settings(|s| {
        s.edge.register_unknown = true;
        s.edge.authenticate = false;
        s.edge.metrics_every = Duration::from_millis(500);
    }))
    .await;
    // A trip a few minutes ago: engine on, 600 m north, engine off.
    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(356_307_042_441_001)).await, 1);
    let t0 = now_ms() - 300_000;
    fix_at(&mut dev, t0, 0.0, 0, true).await;
    for i in 1..=6u32 {
        fix_at(
            &mut dev,
            t0 + u64::from(i) * 10_000,
            f64::from(i) * 100.0,
            36,
            true,
        )
        .await;
    }
    fix_at(&mut dev, t0 + 70_000, 600.0, 0, false).await;

    let analyst = user(&app, "anna", "ANALYST").await;
    let mqtt = app.server.mqtt_addr.unwrap();
    let mut node = MqttNode::connect(mqtt, "gate-cam", NodeOptions::offline_will("gate-cam"))
        .await
        .unwrap();
    let heartbeat = |seq: i64, cpu: f64| {
        json!({"node_id": "gate-cam", "timestamp": chrono::Utc::now().to_rfc3339(),
               "cpu_usage": cpu, "memory_usage": 40.0, "status": "active", "boot": 1, "seq": seq})
        .to_string()
    };

    let b = Browser::start().await;
    b.goto(&format!("http://{}/#/nodes", app.server.http_addr))
        .await;
    b.sign_in("anna", &analyst).await;
    b.wait_for(
        "['nodes', 'system', 'logs'].every((t) => urbanstreamLive.confirmed.has(t))",
        WAIT,
    )
    .await;
    // Once the page listens (a node heard from more than 15 s ago would show as stale).
    node.publish_acked("edge-qi/nodes/gate-cam/heartbeat", heartbeat(1, 20.0))
        .await;
    let row = |health: &str| {
        format!("document.querySelector('#node-table tr[data-node=\"gate-cam\"][data-health=\"{health}\"]')")
    };
    b.wait_for(&row("live"), WAIT).await;
    // Heartbeats as they come: the CPU column follows and its sparkline grows.
    for (seq, cpu) in [(2, 55.0), (3, 87.0)] {
        node.publish_acked("edge-qi/nodes/gate-cam/heartbeat", heartbeat(seq, cpu))
            .await;
    }
    b.wait_for(
        &format!("{}.textContent.includes('87 %')", row("live")),
        WAIT,
    )
    .await;
    // The system metrics every few seconds, and the node's log entries.
    b.wait_for(
        "document.getElementById('system-metrics').textContent.includes('1 active of 1')",
        WAIT,
    )
    .await;
    b.wait_for(
        "document.getElementById('log-list').textContent.includes('gate-cam')",
        WAIT,
    )
    .await;
    if let Some(p) = shot("nodes") {
        b.screenshot(&p).await;
    }
    // Its connection lost: offline by its last will.
    node.vanish();
    b.wait_for(&row("offline"), WAIT).await;

    // Reports: the trip as a table, and the same rows as CSV.
    b.eval("location.hash = '#/reports'").await;
    b.wait_for("!!document.getElementById('report-kind')", WAIT)
        .await;
    b.eval("document.getElementById('report-kind').value = 'trips'; [...document.querySelectorAll('#view button')].find((x) => x.textContent === 'Show').click(); true")
        .await;
    b.wait_for(
        "!['', 'Loading…'].includes(document.querySelector('#view [role=status]').textContent)",
        WAIT,
    )
    .await;
    let shown = b
        .eval("document.querySelector('#view [role=status]').textContent + ' | ' + document.getElementById('report-out').textContent")
        .await;
    assert_eq!(
        b.eval("document.querySelector('#report-out table caption')?.textContent")
            .await,
        "Trips",
        "{shown}"
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#report-out tbody tr').length")
            .await,
        1
    );
    if let Some(p) = shot("reports") {
        b.screenshot(&p).await;
    }
    let csv = b
        .eval(
            "(() => { const blobs = []; const make = URL.createObjectURL; \
             URL.createObjectURL = (b) => { blobs.push(b); return make(b); }; \
             const click = HTMLAnchorElement.prototype.click; \
             HTMLAnchorElement.prototype.click = function () { if (!this.download) click.call(this); }; \
             [...document.querySelectorAll('#view button')].find((x) => x.textContent === 'Download CSV').click(); \
             return blobs[0].text(); })()",
        )
        .await;
    let csv = csv.as_str().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    // The report's own columns, in its order (as `format=csv` gives them).
    assert!(
        lines[0].starts_with("imei,vehicle_id,start,end,duration_s,distance_km,"),
        "{csv}"
    );
    let km: f64 = lines[1].split(',').nth(5).unwrap().parse().unwrap();
    assert!((0.45..0.65).contains(&km), "{csv}");
    assert_eq!(
        b.eval("document.querySelector('#report-out th').textContent")
            .await,
        "imei"
    );
    let console = b.console.lock().unwrap().clone();
    assert!(console.is_empty(), "page errors: {console:?}");
}

/// The simulated robot's latched stop (status bit 3), as the robot itself holds it.
fn stopped(fleet: &robots::Fleet, i: usize) -> bool {
    fleet.lock().unwrap()[i].inputs()[0] & (1 << 3) != 0
}

#[actix_rt::test]
async fn a_robots_stop_button_stops_the_simulated_robot() {
    let app = TestApp::start(settings(|s| {
        s.robots.telemetry_every = Duration::from_millis(200);
    }))
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fleet = robots::fleet(2);
    tokio::spawn(robots::run_physics(
        fleet.clone(),
        Duration::from_millis(50),
        0.0,
    ));
    tokio::spawn(robots::serve_tcp(listener, fleet.clone()));
    let bus = app
        .created(
            "/api/v1/modbus/buses",
            json!({"name": "rail-a", "kind": "tcp", "address": addr.to_string(), "poll_hz": 10}),
        )
        .await;
    let mut ids = Vec::new();
    for unit in 1..=2 {
        let r = app
            .created(
                "/api/v1/robots",
                json!({"name": format!("hoist-{unit}"), "bus_id": bus["id"], "unit_id": unit, "map": "oht50-v1"}),
            )
            .await;
        ids.push(r["id"].as_i64().unwrap());
    }
    // Robots are devices, not the fleet's vehicles (the five configured trackers are).
    let (_, summary) = app.get("/api/v1/fleet/summary").await;
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(
        (summary["total"].as_i64(), summary["offline"].as_i64()),
        (Some(5), Some(5)),
        "{summary}"
    );
    let operator = user(&app, "otto", "OPERATOR").await;
    let b = Browser::start().await;
    b.goto(&format!("http://{}/#/robots", app.server.http_addr))
        .await;
    b.sign_in("otto", &operator).await;
    let card = |id: i64, state: &str| {
        format!("document.querySelector('article[data-robot=\"{id}\"][data-state=\"{state}\"]')")
    };
    b.wait_for(&card(ids[0], "idle"), WAIT).await;
    assert!(!stopped(&fleet, 0));
    b.eval(&format!(
        "document.querySelector('button.stop[data-robot=\"{}\"]').click()",
        ids[0]
    ))
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !stopped(&fleet, 0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the simulated robot never stopped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!stopped(&fleet, 1), "only the robot pressed for");
    b.wait_for(&card(ids[0], "emergency_stopped"), WAIT).await;
    b.wait_for(
        "document.getElementById('robot-note').textContent.includes('acknowledged')",
        WAIT,
    )
    .await;
    if let Some(p) = shot("robots") {
        b.screenshot(&p).await;
    }
    // Stop all reaches the other one.
    b.eval("document.getElementById('stop-all').click()").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !stopped(&fleet, 1) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stop all missed a robot"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_rt::test]
async fn the_page_reconnects_after_a_server_restart_and_catches_up() {
    let port = free_port();
    let s = settings(|s| s.http.listen = format!("127.0.0.1:{port}").parse().unwrap());
    let app = TestApp::start(s.clone()).await;
    let id = imei(356_307_042_441_003);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    drive(&mut dev, 0.0, 20).await;
    let b = Browser::start().await;
    b.goto(&format!("http://127.0.0.1:{port}/")).await;
    b.sign_in("admin", common::ADMIN_PASSWORD).await;
    let sel = format!("document.querySelector(\"#vehicle-list button[data-imei='{id}']\")");
    b.wait_for(&sel, WAIT).await;
    b.wait_for(
        "document.getElementById('conn').dataset.state === 'live'",
        WAIT,
    )
    .await;

    // The whole city in view (the vehicle drives out of the district it was fitted to).
    b.eval("urbanstreamMap.zoomAt(-3); true").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    drop(dev);
    app.server.stop().await;
    b.wait_for(
        "document.getElementById('conn').dataset.state === 'connecting'",
        WAIT,
    )
    .await;
    assert_eq!(
        b.eval("document.getElementById('conn').textContent").await,
        "reconnecting…"
    );
    // Down for a while: the page backs off.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Back, with the same database; the vehicle moved meanwhile.
    let app = TestApp::start(s).await;
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    drive(&mut dev, 1500.0, 30).await;
    b.wait_for(
        "document.getElementById('conn').dataset.state === 'live'",
        Duration::from_secs(30),
    )
    .await;
    b.wait_for(
        &format!("urbanstreamMap.vehicles.get('{id}').lat > {}", LAT + 0.01),
        WAIT,
    )
    .await;
    // Still signed in, and live pushes flow again.
    drive(&mut dev, 2500.0, 30).await;
    b.wait_for(
        &format!("urbanstreamMap.vehicles.get('{id}').lat > {}", LAT + 0.02),
        WAIT,
    )
    .await;
    assert_eq!(b.eval("document.getElementById('nav').hidden").await, false);
}

#[actix_rt::test]
async fn batched_telemetry_comes_as_one_frame_with_the_latest_per_vehicle() {
    let app = TestApp::start(settings(|_| {})).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({"op": "batch", "every_ms": 5})))
        .await
        .unwrap();
    let err = next_of(&mut ws, "error", WAIT).await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("every_ms"),
        "{err}"
    );
    ws.send(send(json!({"op": "batch", "every_ms": 400})))
        .await
        .unwrap();
    ws.send(send(json!({"op": "subscribe", "topics": ["fleet"]})))
        .await
        .unwrap();
    let mut a = app.device().await;
    assert_eq!(a.login(imei(356_307_042_441_001)).await, 1);
    let mut b = app.device().await;
    assert_eq!(b.login(imei(356_307_042_441_002)).await, 1);
    // Let the first (possibly empty-ended) interval pass, then three updates in one.
    let first = next_of(&mut ws, "status", WAIT).await.unwrap();
    assert_eq!(first["data"]["batch_ms"], 400, "{first}");
    drive(&mut a, 100.0, 20).await;
    drive(&mut b, 200.0, 20).await;
    drive(&mut a, 150.0, 20).await;
    let mut items = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while items.len() < 2 {
        let batch = next_of(&mut ws, "batch", WAIT)
            .await
            .expect("a batch frame");
        items.extend(batch["items"].as_array().unwrap().iter().cloned());
        assert!(tokio::time::Instant::now() < deadline);
    }
    let of = |imei: &str| -> Vec<f64> {
        items
            .iter()
            .filter(|i| i["type"] == "telemetry" && i["data"]["imei"] == imei)
            .map(|i| i["data"]["lat"].as_f64().unwrap())
            .collect()
    };
    let a_lats = of("356307042441001");
    assert!(!a_lats.is_empty() && a_lats.len() <= 2, "{items:?}");
    assert!(
        (a_lats.last().unwrap() - (LAT + 150.0 / 111_195.0)).abs() < 1e-6,
        "the latest of a vehicle wins: {a_lats:?}"
    );
    assert_eq!(of("356307042441002").len(), 1);
    assert!(
        next_of(&mut ws, "telemetry", Duration::from_millis(600))
            .await
            .is_none(),
        "nothing comes unbatched"
    );
}

#[actix_rt::test]
async fn the_demo_seeds_the_city_once_and_its_devices_come_alive() {
    let app = TestApp::start(settings(|s| {
        s.teltonika.register_unknown = true;
        s.edge.register_unknown = true;
        s.edge.authenticate = false;
    }))
    .await;
    let opts = urbanstream::demo::DemoOptions {
        buses: 3,
        nodes: 1,
        robots: 2,
        admin_password: common::ADMIN_PASSWORD.into(),
    };
    urbanstream::demo::start(&app.server, &opts).await.unwrap();
    // A second start (a restart on the same database) seeds nothing twice.
    urbanstream::demo::start(&app.server, &opts).await.unwrap();
    let count = |body: String, key: &str| {
        serde_json::from_str::<Value>(&body).unwrap()[key]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(app.get("/api/v1/routes").await.1, "items"), 3);
    assert_eq!(count(app.get("/api/v1/geofences").await.1, "features"), 1);
    assert_eq!(count(app.get("/api/v1/alerts/rules").await.1, "items"), 8);
    let (_, buses) = app.get("/api/v1/modbus/buses").await;
    assert_eq!(
        serde_json::from_str::<Value>(&buses)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(count(app.get("/api/v1/robots").await.1, "items"), 2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, fleet) = app.get("/api/v1/fleet/summary").await;
        let fleet: Value = serde_json::from_str(&fleet).unwrap();
        let (_, robots) = app.get("/api/v1/robots").await;
        let robots: Value = serde_json::from_str(&robots).unwrap();
        let (_, nodes) = app.get("/api/v1/nodes").await;
        let nodes: Value = serde_json::from_str(&nodes).unwrap();
        let buses_online = fleet["online"].as_i64() == Some(3);
        let robots_up = robots["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] != "disconnected");
        let node_up = nodes["items"].as_array().unwrap().len() == 1;
        if buses_online && robots_up && node_up {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo's devices never all came up: {fleet} {robots} {nodes}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[actix_rt::test]
async fn an_operator_watches_people_cross_the_floor_and_stops_the_session() {
    let poses = [pose(0.0, 0.0), pose(20.0, 0.0)];
    let app = TestApp::start(settings(|s| {
        s.edge.register_unknown = true;
        s.edge.authenticate = false;
        s.cameras.environment.width_m = 20.0;
        s.cameras.environment.height_m = 14.0;
        for (i, p) in poses.iter().enumerate() {
            s.cameras.list.push(camera(i as u32, "box-1", p));
        }
    }))
    .await;
    app.created(
        "/api/v1/zones",
        json!({"name": "door", "polygon": [[9, 0], [11, 0], [11, 14], [9, 14]]}),
    )
    .await;
    let operator = user(&app, "oona", "OPERATOR").await;
    let b = Browser::start().await;
    b.goto(&format!("http://{}/#/people", app.server.http_addr))
        .await;
    b.sign_in("oona", &operator).await;
    b.wait_for("!!document.getElementById('session-stop')", WAIT)
        .await;
    b.wait_for(
        "document.querySelectorAll('#floor polygon.zone').length === 1",
        WAIT,
    )
    .await;

    // Two people walk across the room for 5 s, reported as it happens.
    let mut node = MqttNode::connect(
        app.server.mqtt_addr.unwrap(),
        "box-1",
        NodeOptions::default(),
    )
    .await
    .unwrap();
    let walk = tokio::spawn(async move {
        let start_ms = chrono::Utc::now().timestamp_millis();
        for k in 0..50 {
            let msg = frame_message("box-1", &poses, start_ms, k, &two_walkers(k as f64 * 0.1));
            node.publish_acked("edge-qi/detection/box-1", msg.to_string())
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        node
    });
    b.wait_for(
        "document.querySelectorAll('#floor g.person').length === 2",
        WAIT,
    )
    .await;
    b.wait_for(
        "document.getElementById('people-summary').dataset.count === '2'",
        WAIT,
    )
    .await;
    b.wait_for(
        "document.querySelector('#camera-table tr[data-camera=\"1\"]')?.textContent.includes('running')",
        WAIT,
    )
    .await;
    b.wait_for(
        "[...document.querySelectorAll('#zone-log li')].some((li) => li.textContent.includes('entered door'))",
        WAIT,
    )
    .await;
    let _node = walk.await.unwrap();
    if let Some(p) = shot("people") {
        b.screenshot(&p).await;
    }
    // The heatmap of the session so far.
    b.eval("document.getElementById('heatmap-toggle').click()")
        .await;
    b.wait_for(
        "document.querySelectorAll('#floor rect.heat').length > 0",
        WAIT,
    )
    .await;
    b.eval("document.getElementById('session-stop').click()")
        .await;
    b.wait_for("!!document.getElementById('session-start')", WAIT)
        .await;
    let (_, sessions) = app.get("/api/v1/sessions").await;
    let sessions: Value = serde_json::from_str(&sessions).unwrap();
    assert_eq!(sessions["items"][0]["state"], "stopped", "{sessions}");
}

#[actix_rt::test]
async fn a_city_of_thousands_is_built_over_several_frames_and_shown_whole() {
    let app = TestApp::start(settings(|_| {})).await;
    let base = format!("http://{}", app.server.http_addr);
    let dispatcher = user(&app, "dora", "DISPATCHER").await;
    let b = Browser::start().await;
    b.goto(&format!("{base}/")).await;
    b.sign_in("dora", &dispatcher).await;
    b.wait_for("window.urbanstreamMap !== undefined", WAIT)
        .await;
    // 20,000 idling vehicles on a grid over the view, and a probe vehicle at a known screen
    // point with no other within 30 px.
    b.eval(
        "(() => { const m = urbanstreamMap; m.vehicles.clear(); \
           const px = m.w / 2 + 7, py = m.h / 2 + 9; \
           for (let i = 0; i < 20000; i++) { \
             const x = 10 + (i % 200) * (m.w - 20) / 200, y = 10 + Math.floor(i / 200) * (m.h - 20) / 100; \
             if (Math.hypot(x - px, y - py) < 30) continue; \
             const p = m.toLatLon(x, y); \
             m.vehicles.set(`t${i}`, { imei: `t${i}`, lat: p.lat, lon: p.lon, heading: 0, state: 'idling' }); } \
           const q = m.toLatLon(px, py); \
           m.vehicles.set('probe', { imei: 'probe', lat: q.lat, lon: q.lon, heading: 0, state: 'idling' }); \
           window.probe = m.toScreen(q.lat, q.lon); return m.vehicles.size; })()",
    )
    .await;
    // The colour an idling vehicle is filled with, and the pixel under the probe.
    b.eval(
        "window.probeShown = () => { const c = document.createElement('canvas'); c.width = c.height = 1; \
           const x = c.getContext('2d'); x.fillStyle = urbanstreamMap.colours.idling; x.fillRect(0, 0, 1, 1); \
           const want = [...x.getImageData(0, 0, 1, 1).data].slice(0, 3); \
           const m = urbanstreamMap, d = m.dpr; \
           const got = [...m.canvas.getContext('2d').getImageData(Math.round(probe[0] * d), Math.round(probe[1] * d), 1, 1).data].slice(0, 3); \
           return want.every((v, i) => Math.abs(v - got[i]) <= 8); }; true",
    )
    .await;
    // A data-driven picture: built over several frames, the screen keeps the old one meanwhile.
    let first = b
        .eval(
            "new Promise((done) => { const m = urbanstreamMap; cancelAnimationFrame(m.frame); m.frame = null; \
               clearTimeout(m.timer); m.timer = null; m.job = null; m.renderedAt = 0; m.draw(); \
               requestAnimationFrame(() => done([m.job ? m.job.next : -1, probeShown()])); })",
        )
        .await;
    let drawn = first[0].as_i64().unwrap();
    assert!(
        drawn > 0 && drawn < 19000,
        "after its first frame a picture of about 19,000 is under way: {drawn} drawn"
    );
    assert_eq!(first[1], false, "not on screen before it is whole");
    b.wait_for("urbanstreamMap.job === null", WAIT).await;
    assert_eq!(
        b.eval("probeShown()").await,
        true,
        "the probe vehicle is on screen"
    );
    // The user's own move draws the whole picture on the next frame.
    let gone = b
        .eval(
            "new Promise((done) => { urbanstreamMap.vehicles.delete('probe'); urbanstreamMap.draw(true); \
               requestAnimationFrame(() => requestAnimationFrame(() => done(probeShown()))); })",
        )
        .await;
    assert_eq!(gone, false, "the probe is gone at once");
}
