//! Robots over Modbus, end to end: our simulator (a tokio-modbus server) on a real TCP
//! socket, the server's bus and robot actors, REST, the command ledger and the database.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::{Duration, Instant};

use common::mqtt::free_port;
use common::{settings, TestApp};
use serde_json::{json, Value};
use urbanstream::simulate::robots;

async fn simulator(n: u8) -> (std::net::SocketAddr, robots::Fleet) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fleet = robots::fleet(n);
    tokio::spawn(robots::run_physics(
        fleet.clone(),
        Duration::from_millis(50),
        0.0,
    ));
    tokio::spawn(robots::serve_tcp(listener, fleet.clone()));
    (addr, fleet)
}

async fn json_of(app: &TestApp, path: &str) -> Value {
    let (s, b) = app.get(path).await;
    assert_eq!(s, 200, "GET {path}: {b}");
    serde_json::from_str(&b).unwrap()
}

/// Waits until `check` holds for the robot's JSON (REST), or fails with the last one seen.
async fn until(app: &TestApp, robot: i64, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = json_of(app, &format!("/api/v1/robots/{robot}")).await;
        if check(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "robot {robot} never {what}: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn command_done(app: &TestApp, robot: i64, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = json_of(app, &format!("/api/v1/robots/{robot}/commands/{id}")).await;
        if matches!(
            c["status"].as_str(),
            Some("ANSWERED" | "FAILED" | "EXPIRED")
        ) {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "command {id} never finished: {c}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_rt::test]
async fn robots_are_polled_commanded_stopped_and_reset_over_modbus_tcp() {
    let (addr, fleet) = simulator(4).await;
    let app = TestApp::start(settings(|s| {
        s.robots.telemetry_every = Duration::from_millis(200);
    }))
    .await;
    let bus = app
        .created(
            "/api/v1/modbus/buses",
            json!({"name": "rail-a", "kind": "tcp", "address": addr.to_string(), "poll_hz": 20.0}),
        )
        .await;
    let bus_id = bus["id"].as_i64().unwrap();

    // Discovery finds the four units and nothing past them.
    let (s, b) = app
        .request(
            "POST",
            &format!("/api/v1/modbus/buses/{bus_id}/discover?first=1&last=6&timeout_ms=100"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let found: Value = serde_json::from_str(&b).unwrap();
    let units: Vec<i64> = found["found"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["unit_id"].as_i64().unwrap())
        .collect();
    assert_eq!(units, vec![1, 2, 3, 4], "{found}");
    assert_eq!(found["found"][0]["identity"]["model"], "OHT-50 SIM");

    // Bad input is refused with a reason.
    let (s, _) = app
        .request(
            "POST",
            "/api/v1/robots",
            Some(&json!({"name": "x", "bus_id": bus_id, "unit_id": 0})),
        )
        .await;
    assert_eq!(s, 400);
    let robot = app
        .created(
            "/api/v1/robots",
            json!({"name": "hoist-1", "bus_id": bus_id, "unit_id": 1}),
        )
        .await;
    let id = robot["id"].as_i64().unwrap();
    let (s, _) = app
        .request(
            "POST",
            "/api/v1/robots",
            Some(&json!({"name": "twin", "bus_id": bus_id, "unit_id": 1})),
        )
        .await;
    assert_eq!(s, 409, "one robot per unit id");

    let v = until(&app, id, "became idle", |v| v["state"] == "idle").await;
    assert_eq!(v["live"]["report"]["station"], 2, "{v}");

    // A move: validated, sent as one FC16 write, answered by the sequence echo.
    let (s, b) = app
        .request(
            "POST",
            &format!("/api/v1/robots/{id}/commands"),
            Some(&json!({"command": "move_to_station", "station": 4})),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    let cmd: Value = serde_json::from_str(&b).unwrap();
    let done = command_done(&app, id, cmd["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "ANSWERED", "{done}");
    until(&app, id, "moved", |v| v["state"] == "moving").await;

    // A hoist while moving is refused with the reason.
    let (s, b) = app
        .request(
            "POST",
            &format!("/api/v1/robots/{id}/commands"),
            Some(&json!({"command": "hoist_down"})),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    assert!(b.contains("stopped"), "{b}");

    // The stop reaches the coil; the state shows it; a move is then refused.
    let (s, b) = app
        .request("POST", &format!("/api/v1/robots/{id}/estop"), None)
        .await;
    assert_eq!(s, 200, "{b}");
    let ack: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(ack["acknowledged"], true, "{ack}");
    assert!(
        fleet.lock().unwrap()[0].inputs()[0] & (1 << 3) != 0,
        "the coil latched the stop"
    );
    until(&app, id, "stopped", |v| v["state"] == "emergency_stopped").await;
    let (s, b) = app
        .request(
            "POST",
            &format!("/api/v1/robots/{id}/commands"),
            Some(&json!({"command": "move_to_station", "station": 1})),
        )
        .await;
    assert_eq!(s, 409, "{b}");

    // Reset is refused while the hardware button is pressed, accepted once released.
    fleet.lock().unwrap()[0].estop_button = true;
    until(&app, id, "saw the button", |v| {
        v["live"]["safety"]
            .as_array()
            .is_some_and(|a| a.iter().any(|k| k == "estop_pressed"))
    })
    .await;
    let (s, b) = app
        .request("POST", &format!("/api/v1/robots/{id}/reset"), None)
        .await;
    assert_eq!(s, 409, "{b}");
    fleet.lock().unwrap()[0].estop_button = false;
    until(&app, id, "saw the button released", |v| {
        v["live"]["safety"]
            .as_array()
            .is_some_and(|a| !a.iter().any(|k| k == "estop_pressed"))
    })
    .await;
    let (s, b) = app
        .request("POST", &format!("/api/v1/robots/{id}/reset"), None)
        .await;
    assert_eq!(s, 202, "{b}");
    until(&app, id, "came back", |v| v["state"] == "idle").await;

    // History: telemetry rows, their aggregate, and the safety events begun and ended.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = json_of(&app, &format!("/api/v1/robots/{id}/telemetry")).await;
    assert!(t["items"].as_array().unwrap().len() >= 3, "{t}");
    let a = json_of(
        &app,
        &format!("/api/v1/robots/{id}/telemetry/aggregate?bucket=3600"),
    )
    .await;
    assert!(a["items"][0]["samples"].as_i64().unwrap() >= 3, "{a}");
    let e = json_of(&app, &format!("/api/v1/robots/{id}/safety-events")).await;
    let kinds: Vec<(String, bool)> = e["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["kind"].as_str().unwrap().to_owned(),
                x["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(kinds.contains(&("estop_active".into(), true)), "{e}");
    assert!(kinds.contains(&("estop_active".into(), false)), "{e}");
    assert!(kinds.contains(&("estop_pressed".into(), true)), "{e}");
    assert!(
        app.metric_sum("urbanstream_modbus_estop_seconds_count")
            .await
            >= 1.0
    );
}

#[actix_rt::test]
async fn a_robot_that_stops_answering_is_disconnected_and_comes_back() {
    let (addr, _fleet) = simulator(1).await;
    let app = TestApp::start(settings(|s| {
        s.modbus.timeout = Duration::from_millis(50);
    }))
    .await;
    let bus = app
        .created(
            "/api/v1/modbus/buses",
            json!({"name": "rail-b", "kind": "tcp", "address": addr.to_string(), "poll_hz": 20.0}),
        )
        .await;
    let bus_id = bus["id"].as_i64().unwrap();
    // Unit 2 does not exist: it never answers.
    let ghost = app
        .created(
            "/api/v1/robots",
            json!({"name": "ghost", "bus_id": bus_id, "unit_id": 2}),
        )
        .await;
    let real = app
        .created(
            "/api/v1/robots",
            json!({"name": "real", "bus_id": bus_id, "unit_id": 1}),
        )
        .await;
    let (ghost, real) = (ghost["id"].as_i64().unwrap(), real["id"].as_i64().unwrap());
    until(&app, real, "became idle", |v| v["state"] == "idle").await;
    let v = until(&app, ghost, "was lost", |v| {
        v["live"]["safety"]
            .as_array()
            .is_some_and(|a| a.iter().any(|k| k == "link_lost"))
    })
    .await;
    assert_eq!(v["state"], "disconnected");
    assert!(
        app.metric("urbanstream_modbus_errors_total{reason=\"timeout\"}")
            .await
            >= 1.0
    );
    // A command to a robot that does not answer is refused at once.
    let (s, _) = app
        .request(
            "POST",
            &format!("/api/v1/robots/{ghost}/commands"),
            Some(&json!({"command": "home"})),
        )
        .await;
    assert_eq!(s, 409);
    // Moving the ghost onto the live unit's neighbour... it answers once it is unit 1's twin.
    let (s, b) = app
        .request(
            "PATCH",
            &format!("/api/v1/robots/{real}"),
            Some(&json!({"name": "real-1"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

/// A child process stopped when the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// pymodbus serving `units` robots of the `oht50-v1` map (tests/peers/oht_peer.py).
fn pymodbus(units: u8, at: &[&str]) -> Child {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/oht_peer.py");
    let child = std::process::Command::new("python3")
        .arg(script)
        .arg("--units")
        .arg(units.to_string())
        .args(at)
        .spawn()
        .expect("python3 with pymodbus (scripts/test.sh installs it)");
    Child(child)
}

/// Two pseudo-terminals wired together by socat: an RS485 line in a test.
fn pty_pair(dir: &std::path::Path) -> (Child, String, String) {
    let (a, b) = (dir.join("host"), dir.join("robots"));
    let child = std::process::Command::new("socat")
        .arg(format!("pty,raw,echo=0,link={}", a.display()))
        .arg(format!("pty,raw,echo=0,link={}", b.display()))
        .spawn()
        .expect("socat (scripts/test.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(a.exists() && b.exists()) {
        assert!(Instant::now() < deadline, "socat made no pty pair");
        std::thread::sleep(Duration::from_millis(20));
    }
    (
        Child(child),
        a.display().to_string(),
        b.display().to_string(),
    )
}

async fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "peer never listened on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A move answered by the echo, a stop acknowledged and shown, a move refused, a reset.
async fn command_stop_reset(app: &TestApp, id: i64) {
    until(app, id, "became idle", |v| v["state"] == "idle").await;
    let (s, b) = app
        .request(
            "POST",
            &format!("/api/v1/robots/{id}/commands"),
            Some(&json!({"command": "move_to_station", "station": 3, "idempotency_key": format!("k{id}")})),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    let cmd: Value = serde_json::from_str(&b).unwrap();
    let done = command_done(app, id, cmd["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "ANSWERED", "{done}");
    let (s, b) = app
        .request("POST", &format!("/api/v1/robots/{id}/estop"), None)
        .await;
    assert_eq!(s, 200, "{b}");
    until(app, id, "stopped", |v| v["state"] == "emergency_stopped").await;
    let (s, _) = app
        .request(
            "POST",
            &format!("/api/v1/robots/{id}/commands"),
            Some(&json!({"command": "home"})),
        )
        .await;
    assert_eq!(s, 409);
    let (s, b) = app
        .request("POST", &format!("/api/v1/robots/{id}/reset"), None)
        .await;
    assert_eq!(s, 202, "{b}");
    until(app, id, "came back", |v| v["state"] == "idle").await;
}

#[actix_rt::test]
async fn against_pymodbus_over_tcp() {
    let port = free_port();
    let _peer = pymodbus(2, &["--tcp", &format!("127.0.0.1:{port}")]);
    wait_port(port).await;
    let app = TestApp::start(settings(|_| {})).await;
    let bus = app
        .created(
            "/api/v1/modbus/buses",
            json!({"name": "gw", "kind": "tcp", "address": format!("127.0.0.1:{port}"), "poll_hz": 20.0}),
        )
        .await;
    let bus_id = bus["id"].as_i64().unwrap();
    let (s, b) = app
        .request(
            "POST",
            &format!("/api/v1/modbus/buses/{bus_id}/discover?first=1&last=3&timeout_ms=200"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let found: Value = serde_json::from_str(&b).unwrap();
    let found = found["found"].as_array().unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0]["vendor"], "pymodbus", "FC43 answered: {found:?}");
    assert_eq!(found[1]["identity"]["model"], "PYMODBUS-OHT");
    assert_eq!(found[1]["identity"]["serial"], 7002);
    let robot = app
        .created(
            "/api/v1/robots",
            json!({"name": "py-1", "bus_id": bus_id, "unit_id": 1}),
        )
        .await;
    command_stop_reset(&app, robot["id"].as_i64().unwrap()).await;
}

#[actix_rt::test]
async fn against_pymodbus_over_rtu_through_a_pty_pair() {
    let dir = tempfile_dir();
    let (_line, host, robots_end) = pty_pair(&dir);
    let _peer = pymodbus(2, &["--serial", &robots_end]);
    let app = TestApp::start(settings(|_| {})).await;
    let bus = app
        .created(
            "/api/v1/modbus/buses",
            json!({"name": "rs485", "kind": "rtu", "path": host, "baud": 115200, "parity": "N", "stop_bits": 1, "poll_hz": 10.0}),
        )
        .await;
    let bus_id = bus["id"].as_i64().unwrap();
    let one = app
        .created(
            "/api/v1/robots",
            json!({"name": "rtu-1", "bus_id": bus_id, "unit_id": 1}),
        )
        .await;
    let two = app
        .created(
            "/api/v1/robots",
            json!({"name": "rtu-2", "bus_id": bus_id, "unit_id": 2}),
        )
        .await;
    let (one, two) = (one["id"].as_i64().unwrap(), two["id"].as_i64().unwrap());
    command_stop_reset(&app, one).await;
    until(&app, two, "became idle", |v| v["state"] == "idle").await;
    // Stop all: a broadcast, then each robot's own acknowledged write.
    let (s, b) = app.request("POST", "/api/v1/robots/estop", None).await;
    assert_eq!(s, 200, "{b}");
    let all: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(all["all_acknowledged"], true, "{all}");
    assert_eq!(all["robots"].as_array().unwrap().len(), 2);
    for id in [one, two] {
        until(&app, id, "stopped", |v| v["state"] == "emergency_stopped").await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "urbanstream-rtu-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[actix_rt::test]
async fn a_stop_shows_at_once_not_at_the_next_scheduled_poll() {
    let (addr, _fleet) = simulator(1).await;
    let app = TestApp::start(settings(|_| {})).await;
    // One poll every 5 s: a stop seen within 2 s was read because of the stop.
    let bus = app
        .created(
            "/api/v1/modbus/buses",
            json!({"name": "slow", "kind": "tcp", "address": addr.to_string(), "poll_hz": 0.2}),
        )
        .await;
    let robot = app
        .created(
            "/api/v1/robots",
            json!({"name": "r", "bus_id": bus["id"], "unit_id": 1}),
        )
        .await;
    let id = robot["id"].as_i64().unwrap();
    until(&app, id, "became idle", |v| v["state"] == "idle").await;
    let (s, b) = app
        .request("POST", &format!("/api/v1/robots/{id}/estop"), None)
        .await;
    assert_eq!(s, 200, "{b}");
    let stopped = Instant::now();
    until(&app, id, "stopped", |v| v["state"] == "emergency_stopped").await;
    assert!(
        stopped.elapsed() < Duration::from_secs(2),
        "the stop was shown only after {:?}",
        stopped.elapsed()
    );
}

async fn alerts(app: &TestApp, kind: &str) -> Vec<Value> {
    let v = json_of(app, &format!("/api/v1/alerts?kind={kind}&limit=100")).await;
    v["items"].as_array().unwrap().clone()
}

#[actix_rt::test]
async fn safety_conditions_and_measures_raise_alerts_and_clear_them() {
    let (addr, _fleet) = simulator(1).await;
    let app = TestApp::start(settings(|_| {})).await;
    app.created(
        "/api/v1/alerts/rules",
        json!({"name": "Stops", "kind": "ROBOT_ESTOP", "severity": "CRITICAL", "cooldown_s": 0}),
    )
    .await;
    // The simulated battery is about 90 %: under 95 % raises, and it never reaches 100.
    app.created(
        "/api/v1/alerts/rules",
        json!({"name": "Battery", "kind": "ROBOT_BATTERY_LOW", "params": {"below_pct": 95, "clear_above_pct": 100}}),
    )
    .await;
    let (s, b) = app
        .request(
            "POST",
            "/api/v1/alerts/rules",
            Some(&json!({"name": "Bad", "kind": "ROBOT_OVER_TEMP", "params": {"above_c": 50, "clear_below_c": 70}})),
        )
        .await;
    assert_eq!(s, 400, "clear_below_c above above_c is refused: {b}");
    let bus = app
        .created(
            "/api/v1/modbus/buses",
            json!({"name": "alerts", "kind": "tcp", "address": addr.to_string(), "poll_hz": 20.0}),
        )
        .await;
    let robot = app
        .created(
            "/api/v1/robots",
            json!({"name": "r", "bus_id": bus["id"], "unit_id": 1}),
        )
        .await;
    let id = robot["id"].as_i64().unwrap();
    until(&app, id, "became idle", |v| v["state"] == "idle").await;
    let (s, b) = app
        .request("POST", &format!("/api/v1/robots/{id}/estop"), None)
        .await;
    assert_eq!(s, 200, "{b}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let estop = alerts(&app, "ROBOT_ESTOP").await;
        let battery = alerts(&app, "ROBOT_BATTERY_LOW").await;
        if !estop.is_empty() && !battery.is_empty() {
            assert_eq!(estop[0]["severity"], "CRITICAL", "{estop:?}");
            assert_eq!(estop[0]["subject"], "estop_active", "{estop:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no alerts: {estop:?} {battery:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, b) = app
        .request("POST", &format!("/api/v1/robots/{id}/reset"), None)
        .await;
    assert_eq!(s, 202, "{b}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let estop = alerts(&app, "ROBOT_ESTOP").await;
        if estop.iter().all(|a| a["status"] == "CLEARED") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stop's alert never cleared: {estop:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_rt::test]
async fn run_time_settings_are_validated_applied_and_audited() {
    let (addr, _fleet) = simulator(1).await;
    let app = TestApp::start(settings(|s| {
        s.robots.telemetry_every = Duration::from_secs(3600);
    }))
    .await;
    let c = json_of(&app, "/api/v1/config").await;
    assert_eq!(c["robots"]["telemetry_every_ms"], 3_600_000, "{c}");
    assert_eq!(c["modbus"]["timeout_ms"], 100, "{c}");
    let (s, b) = app
        .request(
            "PATCH",
            "/api/v1/config",
            Some(&json!({"robots": {"stale_after_polls": 0}})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("robots.stale_after_polls"), "{b}");
    let bus = app
        .created(
            "/api/v1/modbus/buses",
            json!({"name": "tuned", "kind": "tcp", "address": addr.to_string(), "poll_hz": 20.0}),
        )
        .await;
    let robot = app
        .created(
            "/api/v1/robots",
            json!({"name": "r", "bus_id": bus["id"], "unit_id": 1}),
        )
        .await;
    let id = robot["id"].as_i64().unwrap();
    until(&app, id, "became idle", |v| v["state"] == "idle").await;
    let rows = |v: &Value| v["items"].as_array().unwrap().len();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let before = rows(&json_of(&app, &format!("/api/v1/robots/{id}/telemetry")).await);
    assert!(before <= 2, "one row an hour, and the first: {before}");
    let (s, b) = app
        .request(
            "PATCH",
            "/api/v1/config",
            Some(&json!({"robots": {"telemetry_every_ms": 100}, "modbus": {"timeout_ms": 200}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let now: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(now["robots"]["telemetry_every_ms"], 100);
    assert_eq!(now["modbus"]["timeout_ms"], 200);
    // The bus reopened with its new timeout; the robot is polled again.
    until(&app, id, "polled again", |v| v["state"] == "idle").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = rows(&json_of(&app, &format!("/api/v1/robots/{id}/telemetry")).await);
    assert!(
        after >= before + 8,
        "rows every 100 ms now: {before} → {after}"
    );
    let audit = json_of(&app, "/api/v1/audit?limit=50").await;
    let entry = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "PATCH /api/v1/config" && e["status"] == 200)
        .unwrap_or_else(|| panic!("no audit entry: {audit}"));
    assert!(
        entry["detail"]
            .as_str()
            .unwrap()
            .contains("\"telemetry_every_ms\":100"),
        "{entry}"
    );
}

/// A TCP proxy in front of the robots whose line can be pulled and put back.
struct Cable {
    addr: std::net::SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Cable {
    async fn to(upstream: std::net::SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = cut.clone();
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if flag.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let flag = flag.clone();
                tokio::spawn(async move {
                    let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let pulled = async {
                        while !flag.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut down, &mut up) => {}
                        () = pulled => {}
                    }
                });
            }
        });
        Self { addr, cut }
    }

    fn pull(&self, pulled: bool) {
        self.cut.store(pulled, std::sync::atomic::Ordering::SeqCst);
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_json(ws: &mut Ws) -> Value {
    use futures_util::StreamExt;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

#[actix_rt::test]
async fn a_pulled_link_raises_robot_offline_and_moves_are_pushed_once_it_is_back() {
    use futures_util::SinkExt;
    let (addr, _fleet) = simulator(1).await;
    let cable = Cable::to(addr).await;
    let app = TestApp::start(settings(|s| {
        s.modbus.timeout = Duration::from_millis(50);
    }))
    .await;
    app.created(
        "/api/v1/alerts/rules",
        json!({"name": "Lost", "kind": "ROBOT_OFFLINE", "cooldown_s": 0}),
    )
    .await;
    let bus = app
        .created(
            "/api/v1/modbus/buses",
            json!({"name": "cable", "kind": "tcp", "address": cable.addr.to_string(), "poll_hz": 20.0}),
        )
        .await;
    let robot = app
        .created(
            "/api/v1/robots",
            json!({"name": "r", "bus_id": bus["id"], "unit_id": 1}),
        )
        .await;
    let id = robot["id"].as_i64().unwrap();
    until(&app, id, "became idle", |v| v["state"] == "idle").await;

    cable.pull(true);
    until(&app, id, "was lost", |v| v["state"] == "disconnected").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !alerts(&app, "ROBOT_OFFLINE")
        .await
        .iter()
        .any(|a| a["status"] != "CLEARED")
    {
        assert!(Instant::now() < deadline, "no ROBOT_OFFLINE alert");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cable.pull(false);
    until(&app, id, "came back", |v| v["state"] == "idle").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !alerts(&app, "ROBOT_OFFLINE")
        .await
        .iter()
        .all(|a| a["status"] == "CLEARED")
    {
        assert!(Instant::now() < deadline, "ROBOT_OFFLINE never cleared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Back on the line: a move is pushed to `robot:{id}` subscribers as it happens.
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        json!({"op": "subscribe", "topics": [format!("robot:{id}"), "robots"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let (s, b) = app
        .request(
            "POST",
            &format!("/api/v1/robots/{id}/commands"),
            Some(&json!({"command": "move_to_station", "station": 6})),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    let mut positions = Vec::new();
    while positions.len() < 3 {
        let v = ws_json(&mut ws).await;
        if v["type"] == "robot_update"
            && v["topic"] == format!("robot:{id}")
            && v["data"]["state"] == "moving"
        {
            positions.push(v["data"]["report"]["position_mm"].as_i64().unwrap());
        }
    }
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "it drives toward station 6: {positions:?}"
    );
}

/// Hostile to a careless design rather than sent by an attacker: a bus whose robots keep
/// their stop on different coils (two register maps). STOP ALL writes each robot's own coil
/// and broadcasts nothing another robot would take for something else.
#[actix_rt::test]
async fn stop_all_on_a_mixed_rtu_bus_writes_each_robots_own_coil() {
    let dir = tempfile_dir();
    let (_line, host, robots_end) = pty_pair(&dir);
    let log = dir.join("coils.log");
    let _peer = pymodbus(
        2,
        &[
            "--serial",
            &robots_end,
            "--stop-coils",
            "0,5",
            "--coil-log",
            &log.display().to_string(),
        ],
    );
    let app = TestApp::start(settings(|s| {
        let mut other = urbanstream_actors::modbus::RegisterMap::oht50_v1();
        other.name = "oht50-c5".into();
        other.estop_coil = 5;
        s.modbus.maps = vec![urbanstream_actors::modbus::RegisterMap::oht50_v1(), other];
    }))
    .await;
    let bus = app
        .created(
            "/api/v1/modbus/buses",
            json!({"name": "mixed", "kind": "rtu", "path": host, "baud": 115200, "parity": "N", "stop_bits": 1, "poll_hz": 10.0}),
        )
        .await;
    let bus_id = bus["id"].as_i64().unwrap();
    let one = app
        .created(
            "/api/v1/robots",
            json!({"name": "c0", "bus_id": bus_id, "unit_id": 1, "map": "oht50-v1"}),
        )
        .await;
    let two = app
        .created(
            "/api/v1/robots",
            json!({"name": "c5", "bus_id": bus_id, "unit_id": 2, "map": "oht50-c5"}),
        )
        .await;
    let (one, two) = (one["id"].as_i64().unwrap(), two["id"].as_i64().unwrap());
    for id in [one, two] {
        until(&app, id, "became idle", |v| v["state"] == "idle").await;
    }
    let (s, b) = app.request("POST", "/api/v1/robots/estop", None).await;
    assert_eq!(s, 200, "{b}");
    let all: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(all["all_acknowledged"], true, "{all}");
    for id in [one, two] {
        until(&app, id, "stopped", |v| v["state"] == "emergency_stopped").await;
    }
    let writes = std::fs::read_to_string(&log).unwrap();
    let writes: Vec<(u8, u16)> = writes
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap())
        })
        .collect();
    assert!(
        writes.contains(&(1, 0)) && writes.contains(&(2, 5)),
        "{writes:?}"
    );
    assert!(
        !writes.contains(&(2, 0)),
        "robot 2 was written robot 1's stop coil: {writes:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
