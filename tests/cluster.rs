//! Two `urbanstream serve` processes on one PostgreSQL and one Redis: a WebSocket client on
//! node A sees a device connected to node B, and the alert it raises there, once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{fresh_pg, imei, record, RawDevice, ADMIN_PASSWORD, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use urbanstream_actors::teltonika::codec::{encode_avl_frame, CodecId};

/// Kills the process when the test ends, however it ends.
struct Node {
    child: Child,
    http: SocketAddr,
    teltonika: SocketAddr,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Shared by both nodes: a token from one is good on the other.
const SIGNING_KEY: &str = "cluster-test-signing-key-0123456789abcdef";

/// `POST /api/v1/auth/login` as admin on a node; the access token.
async fn login(node: &Node) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string();
    for _ in 0..100 {
        let mut s = tokio::net::TcpStream::connect(node.http).await.unwrap();
        let req = format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).await.unwrap();
        if let Some((_, json)) = raw.split_once("\r\n\r\n") {
            if let Ok(v) = serde_json::from_str::<Value>(json) {
                if let Some(t) = v["access_token"].as_str() {
                    return t.to_owned();
                }
            }
        }
        // The other node may be creating the admin at this moment.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no login on {}", node.http);
}

/// A JSON request to a node with a bearer token; the status and the body.
async fn post(node: &Node, token: &str, path: &str, body: &Value) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.to_string();
    let mut s = tokio::net::TcpStream::connect(node.http).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let json = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn serve(db: &str, prefix: &str) -> Node {
    let (http, teltonika) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_urbanstream"))
        .arg("serve")
        .env("URBANSTREAM__DATABASE__URL", db)
        .env("URBANSTREAM__REDIS__URL", "redis://127.0.0.1:6379")
        .env("URBANSTREAM__REDIS__PREFIX", prefix)
        .env("URBANSTREAM__HTTP__LISTEN", http.to_string())
        .env("URBANSTREAM__TELTONIKA__LISTEN", teltonika.to_string())
        .env("URBANSTREAM__MQTT__LISTEN", "127.0.0.1:0")
        .env("URBANSTREAM__TELTONIKA__REGISTER_UNKNOWN", "true")
        .env("URBANSTREAM__LOG__FILTER", "warn")
        .env("URBANSTREAM__AUTH__SIGNING_KEY", SIGNING_KEY)
        .env(
            "URBANSTREAM__AUTH__BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Node {
        child,
        http,
        teltonika,
    }
}

async fn wait_healthy(node: &Node) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(node.http).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("node on {} never answered", node.http);
}

#[tokio::test]
async fn a_client_on_node_a_sees_a_device_on_node_b() {
    let (_, db) = fresh_pg().await;
    let prefix = format!("cluster:{}:", std::process::id());
    let a = serve(&db, &prefix);
    let b = serve(&db, &prefix);
    wait_healthy(&a).await;
    wait_healthy(&b).await;
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let channel = format!("{prefix}telemetry:all");
    for _ in 0..200 {
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channel)
            .query_async(&mut redis)
            .await
            .unwrap();
        if n >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let id = imei(356_307_042_449_999);
    // Signed in on node B, the token is accepted by node A, sent as the first message.
    let token = login(&b).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", a.http))
        .await
        .unwrap();
    let auth = json!({"op": "auth", "token": token}).to_string();
    ws.send(Message::Text(auth.into())).await.unwrap();
    let sub = json!({"op": "subscribe", "topics": [format!("device:{id}"), "alerts"]}).to_string();
    ws.send(Message::Text(sub.into())).await.unwrap();

    // A rule made on node B; the device on B breaks it; the alert reaches A's client.
    let rule = json!({"name": "Slow zone", "kind": "OVERSPEED", "cooldown_s": 0, "params": {"limit_kmh": 10, "min_duration_s": 0}});
    let (status, body) = post(&b, &token, "/api/v1/alerts/rules", &rule).await;
    assert_eq!(status, 201, "{body}");

    let mut dev = RawDevice::connect(b.teltonika).await;
    assert_eq!(dev.login(id).await, 1);
    let t = chrono::Utc::now().timestamp_millis() as u64;
    let rec = record(t, 44.7722, 17.191);
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[rec]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));

    let mut telemetry = Vec::new();
    let mut alerts = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] == "telemetry" {
                telemetry.push(v);
            } else if v["type"] == "alert" {
                alerts.push(v);
            }
        }
    }
    assert_eq!(telemetry.len(), 1, "exactly once: {telemetry:?}");
    assert_eq!(telemetry[0]["topic"], format!("device:{id}"));
    assert_eq!(telemetry[0]["data"]["imei"], id.to_string());
    assert_eq!(
        alerts.len(),
        1,
        "the alert of node B, once on node A: {alerts:?}"
    );
    assert_eq!(alerts[0]["data"]["action"], "raised");
    assert_eq!(alerts[0]["data"]["imei"], id.to_string());
    assert_eq!(alerts[0]["data"]["alert"]["kind"], "OVERSPEED");

    // Cleared by hand on node A: node B's engine lets go, so the next excess is a new alert.
    let alert_id = alerts[0]["data"]["alert"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = post(
        &a,
        &token,
        &format!("/api/v1/alerts/{alert_id}/clear"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rec = record(t + 5_000, 44.7722, 17.191);
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[rec]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] == "alert" {
                seen.push((
                    v["data"]["action"].clone(),
                    v["data"]["alert"]["id"].clone(),
                ));
            }
        }
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], (json!("cleared"), json!(alert_id)));
    assert_eq!(seen[1].0, "raised");
    assert_ne!(seen[1].1, json!(alert_id), "a new alert");
}
