//! `urbanstream demo`: the server with a living city in it and no hardware. It seeds bus
//! routes, stops, a geofence and alert rules around Banja Luka (once per database), then runs
//! simulated trackers, edge nodes and robots against itself, over the same wires real devices
//! use (Teltonika TCP, MQTT, Modbus TCP), so vehicles move, alerts fire and robots work.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::Server;
use crate::simulate::{self, robots, route::LINES};

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub buses: usize,
    pub nodes: usize,
    pub robots: u8,
    /// The admin's password, to seed through the API.
    pub admin_password: String,
}

/// Seeds the city (unless it is there already) and starts the simulators; they run until
/// the process ends.
pub async fn start(server: &Server, o: &DemoOptions) -> anyhow::Result<()> {
    let http = loopback(server.http_addr);
    let api = Api::login(http, &o.admin_password).await.context(
        "signing in as admin to seed the demo (a database from another run keeps its own admin password)",
    )?;
    seed_city(&api).await?;

    let mut trackers = simulate::Options::new(loopback(server.teltonika_addr));
    trackers.devices = o.buses.max(1);
    trackers.imei_base = 359_000_000_000_000;
    trackers.duration = Duration::from_secs(100 * 365 * 86_400);
    tokio::spawn(async move {
        if let Err(e) = simulate::run(trackers).await {
            tracing::warn!("demo buses stopped: {e:#}");
        }
    });

    if let (Some(broker), true) = (server.mqtt_addr, o.nodes > 0) {
        let nodes = simulate::edge::EdgeOptions {
            nodes: o.nodes,
            rate: 2.0,
            detections: 3,
            duration: Duration::from_secs(100 * 365 * 86_400),
            broker: loopback(broker),
            prefix: "demo-node-".into(),
            heartbeat_every: Duration::from_secs(5),
            drop_one_in: 2_000,
            drain: Duration::from_secs(1),
            progress: false,
            ws: None,
            database: None,
            api_key: None,
        };
        tokio::spawn(async move {
            if let Err(e) = simulate::edge::run(nodes).await {
                tracing::warn!("demo edge nodes stopped: {e:#}");
            }
        });
    }

    if o.robots > 0 {
        start_robots(&api, o.robots).await?;
    }
    Ok(())
}

/// Robots on a simulated Modbus TCP rail, registered once, sent to stations now and then;
/// a rare fault keeps the safety view honest.
async fn start_robots(api: &Api, n: u8) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let fleet = robots::fleet(n);
    tokio::spawn(robots::run_physics(
        fleet.clone(),
        Duration::from_millis(50),
        2.0,
    ));
    tokio::spawn(robots::serve_tcp(listener, fleet));
    // The rail's port is new each start: the bus follows it.
    let buses = api.get("/api/v1/modbus/buses").await?;
    let bus =
        json!({"name": "demo-rail", "kind": "tcp", "address": addr.to_string(), "poll_hz": 10});
    let bus_id = match buses
        .as_array()
        .and_then(|b| b.iter().find(|b| b["name"] == "demo-rail"))
    {
        Some(b) => {
            let id = b["id"].as_i64().unwrap_or_default();
            api.send("PUT", &format!("/api/v1/modbus/buses/{id}"), &bus)
                .await?;
            id
        }
        None => api.send("POST", "/api/v1/modbus/buses", &bus).await?["id"]
            .as_i64()
            .unwrap_or_default(),
    };
    let existing = api.get("/api/v1/robots").await?;
    let mut ids = Vec::new();
    for unit in 1..=n {
        let name = format!("hoist-{unit}");
        let found = existing["items"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == name.as_str()))
            .and_then(|r| r["id"].as_i64());
        let id = match found {
            Some(id) => id,
            None => api
                .send(
                    "POST",
                    "/api/v1/robots",
                    &json!({"name": name, "bus_id": bus_id, "unit_id": unit, "map": "oht50-v1"}),
                )
                .await?["id"]
                .as_i64()
                .unwrap_or_default(),
        };
        ids.push(id);
    }
    let api = api.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(4));
        loop {
            tick.tick().await;
            let id = ids[rand::random::<u32>() as usize % ids.len()];
            let station = 1 + rand::random::<u32>() % 8;
            // Refused while a robot is stopped or busy: the next tick tries another.
            let _ = api
                .send(
                    "POST",
                    &format!("/api/v1/robots/{id}/commands"),
                    &json!({"command": "move_to_station", "station": station}),
                )
                .await;
        }
    });
    Ok(())
}

/// Stops and routes from the simulated bus lines, a speed-limited zone in the centre, and
/// the rules that make the dashboard speak; skipped when routes exist already.
async fn seed_city(api: &Api) -> anyhow::Result<()> {
    let routes = api.get("/api/v1/routes").await?;
    if routes["items"].as_array().is_some_and(|r| !r.is_empty()) {
        return Ok(());
    }
    let colours = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00"];
    let mut stop_ids: Vec<((f64, f64), i64)> = Vec::new();
    for (li, line) in LINES.iter().enumerate() {
        let (number, name) = line.name.split_once(' ').unwrap_or((line.name, line.name));
        let mut seq = Vec::new();
        for (si, &at) in line.stops.iter().enumerate() {
            let id = match stop_ids.iter().find(|(p, _)| *p == at) {
                Some((_, id)) => *id,
                None => {
                    let stop = api
                        .send(
                            "POST",
                            "/api/v1/stops",
                            &json!({"code": format!("BL{}{}", li + 1, si + 1), "name": format!("{name} {}", si + 1),
                                "lat": at.0, "lon": at.1, "radius_m": 40}),
                        )
                        .await?;
                    let id = stop["id"].as_i64().unwrap_or_default();
                    stop_ids.push((at, id));
                    id
                }
            };
            seq.push(json!({"stop_id": id, "offset_s": si * 120}));
        }
        let route = api
            .send(
                "POST",
                "/api/v1/routes",
                &json!({"number": number, "name": name, "colour": colours[li % colours.len()]}),
            )
            .await?;
        let id = route["id"].as_i64().unwrap_or_default();
        api.send("PUT", &format!("/api/v1/routes/{id}/stops"), &json!(seq))
            .await?;
    }
    api.send(
        "POST",
        "/api/v1/geofences",
        &json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [17.1910, 44.7722]},
            "properties": {"name": "Centar (30 km/h)", "radius_m": 350, "speed_limit_kmh": 30}}),
    )
    .await?;
    let rules = [
        json!({"name": "Speeding", "kind": "OVERSPEED", "severity": "CRITICAL",
            "params": {"limit_kmh": 45, "min_duration_s": 2}}),
        json!({"name": "Entering the centre", "kind": "GEOFENCE_ENTER", "severity": "INFO"}),
        json!({"name": "Idling", "kind": "EXCESSIVE_IDLE", "severity": "WARNING", "params": {"max_idle_s": 30}}),
        json!({"name": "Harsh braking", "kind": "HARSH_BRAKING", "severity": "WARNING"}),
        json!({"name": "Tracker offline", "kind": "DEVICE_OFFLINE", "severity": "WARNING"}),
        json!({"name": "Robot stopped", "kind": "ROBOT_ESTOP", "severity": "CRITICAL"}),
        json!({"name": "Robot fault", "kind": "ROBOT_FAULT", "severity": "CRITICAL"}),
        json!({"name": "Node offline", "kind": "NODE_OFFLINE", "severity": "WARNING"}),
    ];
    for r in rules {
        if let Err(e) = api.send("POST", "/api/v1/alerts/rules", &r).await {
            tracing::warn!("demo rule {} not created: {e:#}", r["name"]);
        }
    }
    Ok(())
}

fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

/// The server's own REST API over loopback, as admin.
#[derive(Clone)]
struct Api {
    addr: SocketAddr,
    token: String,
}

impl Api {
    async fn login(addr: SocketAddr, password: &str) -> anyhow::Result<Self> {
        let mut api = Self {
            addr,
            token: String::new(),
        };
        let v = api
            .send(
                "POST",
                "/api/v1/auth/login",
                &json!({"username": "admin", "password": password}),
            )
            .await?;
        api.token = v["access_token"]
            .as_str()
            .context("no access token")?
            .to_owned();
        Ok(api)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.request("GET", path, None).await
    }

    async fn send(&self, method: &str, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.request(method, path, Some(body)).await
    }

    /// One HTTP/1.1 request (`Connection: close`); the JSON answer, or an error with it.
    async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut s = tokio::net::TcpStream::connect(self.addr).await?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let auth = if self.token.is_empty() {
            String::new()
        } else {
            format!("Authorization: Bearer {}\r\n", self.token)
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(body.as_bytes()).await?;
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut raw)).await??;
        let raw = String::from_utf8_lossy(&raw);
        let status: u16 = raw
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no HTTP status")?;
        let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let text = if head
            .lines()
            .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"))
        {
            dechunk(rest)
        } else {
            rest.to_owned()
        };
        anyhow::ensure!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
