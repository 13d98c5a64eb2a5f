//! Test harness: a real server on ephemeral ports, a collector of accepted telemetry, and a
//! raw TCP tracker for protocol edge cases.
#![allow(dead_code)]

pub mod browser;
pub mod mqtt;
pub mod scene;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use actix::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use urbanstream::config::Settings;
use urbanstream::server::{Server, ServerBuilder};
use urbanstream_actors::entity::{EntityKey, EntityUpdate};
use urbanstream_actors::registry::DeviceEntry;
use urbanstream_actors::teltonika::codec::encode_login;
use urbanstream_actors::vehicle::VehicleSnapshot;
use urbanstream_schema::Imei;

/// Readings the trackers' entities emitted, per device: (device time, late).
#[derive(Default)]
pub struct Collector {
    pub seen: HashMap<Imei, Vec<(u64, bool)>>,
}

impl Actor for Collector {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1_000_000);
    }
}

impl Handler<EntityUpdate> for Collector {
    type Result = ();
    fn handle(&mut self, msg: EntityUpdate, _ctx: &mut Self::Context) {
        let Some(imei) = msg.key.imei() else { return };
        let v = self.seen.entry(imei).or_default();
        v.extend(
            msg.readings
                .iter()
                .map(|r| (r.reading.at_ms as u64, r.late)),
        );
    }
}

#[derive(Message)]
#[rtype(result = "HashMap<Imei, Vec<(u64, bool)>>")]
pub struct Take;

impl Handler<Take> for Collector {
    type Result = MessageResult<Take>;
    fn handle(&mut self, _msg: Take, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(std::mem::take(&mut self.seen))
    }
}

pub struct TestApp {
    pub server: Server,
    pub collector: Addr<Collector>,
    /// An ADMIN access token, sent with every request of [`TestApp::request`].
    pub token: Option<String>,
}

/// The password of the `admin` user every test server starts with.
pub const ADMIN_PASSWORD: &str = "test-admin-password";

pub fn imei(n: u64) -> Imei {
    Imei::from_number(n).unwrap()
}

static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// A new SQLite file URL for one test.
pub fn fresh_sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!(
        "urbanstream-test-{}-{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    format!("sqlite://{}/urbanstream.db", dir.display())
}

/// Server of the tests' PostgreSQL databases (trust auth on this machine).
pub fn pg_base() -> String {
    std::env::var("URBANSTREAM_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Runs one statement on the `postgres` maintenance database.
pub async fn pg_admin(sql: &str) {
    urbanstream_schema::test_db::admin(&pg_base(), sql)
        .await
        .unwrap();
}

/// A new PostgreSQL database for one test, cloned from the migrated template; returns
/// (name, url).
pub async fn fresh_pg() -> (String, String) {
    let name = format!(
        "us_it_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let url = urbanstream_schema::test_db::fresh_pg(&pg_base(), &name)
        .await
        .unwrap();
    (name, url)
}

/// Settings on loopback with ephemeral ports and a fresh SQLite file; `edit` adjusts them.
pub fn settings(edit: impl FnOnce(&mut Settings)) -> Settings {
    let mut s = Settings::defaults_with(&[
        ("http.listen", "127.0.0.1:0"),
        ("http.workers", "1"),
        ("teltonika.listen", "127.0.0.1:0"),
        ("mqtt.listen", "127.0.0.1:0"),
    ])
    .unwrap();
    s.database.url = fresh_sqlite_url();
    s.auth.bootstrap_admin_password = Some(ADMIN_PASSWORD.into());
    s.teltonika.devices = (0..5)
        .map(|i| DeviceEntry {
            imei: imei(356_307_042_441_000 + i),
            model: "FMC125".into(),
            name: None,
        })
        .collect();
    edit(&mut s);
    s
}

impl TestApp {
    /// The snapshot a tracker's entity published last, if it is running.
    pub fn vehicle(&self, imei: Imei) -> Option<VehicleSnapshot> {
        self.server
            .directory
            .latest_as::<VehicleSnapshot>(&EntityKey::Tracker(imei))
    }
}

impl TestApp {
    pub async fn start(settings: Settings) -> Self {
        // Over HTTPS the plain helpers below do not reach the API: no token then.
        let plain_http = settings.http.tls.is_none();
        let collector = Collector::default().start();
        let server = ServerBuilder::new(settings)
            .downstream(collector.clone().recipient())
            .start()
            .await
            .unwrap();
        let mut app = Self {
            server,
            collector,
            token: None,
        };
        if !plain_http {
            return app;
        }
        let (status, body) = app
            .request_as(
                None,
                "POST",
                "/api/v1/auth/login",
                Some(&serde_json::json!({
                    "username": "admin", "password": ADMIN_PASSWORD
                })),
            )
            .await;
        if status == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            app.token = v["access_token"].as_str().map(str::to_owned);
        }
        app
    }

    /// Signs in; returns the token pair's JSON.
    pub async fn login(&self, username: &str, password: &str) -> (u16, serde_json::Value) {
        let (status, body) = self
            .request_as(
                None,
                "POST",
                "/api/v1/auth/login",
                Some(&serde_json::json!({ "username": username, "password": password })),
            )
            .await;
        (status, serde_json::from_str(&body).unwrap_or_default())
    }

    /// Creates a user with `role` as admin and returns its access token.
    pub async fn user_token(&self, username: &str, role: &str) -> String {
        let password = format!("{username}-password");
        let (status, body) = self
            .request(
                "POST",
                "/api/v1/users",
                Some(&serde_json::json!({ "username": username, "password": password, "role": role })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, v) = self.login(username, &password).await;
        assert_eq!(status, 200, "{v}");
        v["access_token"].as_str().unwrap().to_owned()
    }

    /// The WebSocket URL with the admin token.
    pub fn ws_url(&self) -> String {
        format!(
            "ws://{}/ws?token={}",
            self.server.http_addr,
            self.token.as_deref().unwrap_or_default()
        )
    }

    pub async fn device(&self) -> RawDevice {
        RawDevice::connect(self.server.teltonika_addr).await
    }

    pub async fn take(&self) -> HashMap<Imei, Vec<(u64, bool)>> {
        self.collector.send(Take).await.unwrap()
    }

    /// POSTs `body` as admin, expects 201 Created and returns the created JSON.
    pub async fn created(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (s, b) = self.request("POST", path, Some(&body)).await;
        assert_eq!(s, 201, "POST {path}: {b}");
        serde_json::from_str(&b).unwrap()
    }

    /// Plain HTTP/1.1 GET; returns status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, None).await
    }

    /// Plain HTTP/1.1 request as admin with an optional JSON body; returns status and body.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> (u16, String) {
        self.request_as(self.token.as_deref(), method, path, json)
            .await
    }

    /// Plain HTTP/1.1 request with an optional bearer credential and JSON body.
    pub async fn request_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> (u16, String) {
        let (status, _, body) = self.request_full(token, method, path, json).await;
        (status, body)
    }

    /// Like [`TestApp::request_as`], with the response head (lower-case header lines).
    pub async fn request_full(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> (u16, String, String) {
        self.request_with(token, method, path, json, &[]).await
    }

    /// Like [`TestApp::request_full`], with extra request headers.
    pub async fn request_with(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        json: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> (u16, String, String) {
        let mut s = TcpStream::connect(self.server.http_addr).await.unwrap();
        let body = json.map(|j| j.to_string()).unwrap_or_default();
        let mut extra = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        for (k, v) in headers {
            extra.push_str(&format!("{k}: {v}\r\n"));
        }
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(body.as_bytes()).await.unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).await.unwrap();
        let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let chunked = head
            .lines()
            .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        };
        (status, head.to_lowercase(), body)
    }

    /// Sum of every series of a metric (all label values).
    pub async fn metric_sum(&self, name: &str) -> f64 {
        let (_, body) = self.get("/metrics").await;
        body.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum()
    }

    /// Current value of one series in /metrics (0 when absent).
    pub async fn metric(&self, series: &str) -> f64 {
        let (_, body) = self.get("/metrics").await;
        body.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }
}

/// A tracker speaking raw bytes.
pub struct RawDevice {
    pub stream: TcpStream,
}

pub const WAIT: Duration = Duration::from_secs(5);

impl RawDevice {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
        }
    }

    /// Sends the login and returns the server's reply byte.
    pub async fn login(&mut self, imei: Imei) -> u8 {
        self.stream.write_all(&encode_login(imei)).await.unwrap();
        tokio::time::timeout(WAIT, self.stream.read_u8())
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next 4-byte ACK, or None when nothing arrives within `wait`.
    pub async fn ack(&mut self, wait: Duration) -> Option<u32> {
        match tokio::time::timeout(wait, self.stream.read_u32()).await {
            Ok(Ok(n)) => Some(n),
            _ => None,
        }
    }

    /// True when the server closes the connection within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let mut buf = [0u8; 64];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

/// Decodes an HTTP/1.1 chunked body.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
}

/// Runs the simulator on its own multi-threaded runtime, off the test's actix system.
pub async fn run_simulation(opts: urbanstream::simulate::Options) -> urbanstream::simulate::Report {
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(urbanstream::simulate::run(opts))
    })
    .await
    .unwrap()
    .unwrap()
}

/// A record with a fix at (lat, lon), 33 km/h, ignition on, fuel level and external voltage.
pub fn record(ts: u64, lat: f64, lon: f64) -> urbanstream_actors::teltonika::codec::AvlRecord {
    use urbanstream_actors::teltonika::codec::{IoElement, IoValue};
    fix(
        ts,
        lat,
        lon,
        33,
        vec![
            IoElement {
                id: 239,
                value: IoValue::U8(1),
            },
            IoElement {
                id: 84,
                value: IoValue::U16(1234),
            },
            IoElement {
                id: 66,
                value: IoValue::U16(27_600),
            },
        ],
    )
}

/// A record with a fix at (lat, lon), heading north at `speed` km/h, with these IO elements.
pub fn fix(
    ts: u64,
    lat: f64,
    lon: f64,
    speed: u16,
    io: Vec<urbanstream_actors::teltonika::codec::IoElement>,
) -> urbanstream_actors::teltonika::codec::AvlRecord {
    use urbanstream_actors::teltonika::codec::{AvlRecord, GpsElement, Priority};
    AvlRecord {
        timestamp_ms: ts,
        priority: Priority::Low,
        gps: GpsElement {
            latitude: (lat * 1e7).round() as i32,
            longitude: (lon * 1e7).round() as i32,
            altitude: 160,
            angle: 45,
            satellites: 9,
            speed,
        },
        event_io_id: 0,
        generation_type: None,
        io,
    }
}

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
