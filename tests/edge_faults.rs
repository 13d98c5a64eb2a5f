//! Edge nodes under faults: the server killed mid-stream (the broker redelivers what was not
//! acknowledged, each stored once), and the database gone for seconds (PUBACKs stop, the
//! node keeps its messages, nothing is lost).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::mqtt::{free_port, Mosquitto, MqttNode, NodeOptions, Seen};
use common::{fresh_pg, pg_admin, settings, TestApp};
use serde_json::json;
use urbanstream_schema::store::{DetectionFilter, Store};

fn message(node: &str, seq: i64) -> Vec<u8> {
    json!({
        "node_id": node, "timestamp": chrono::Utc::now().timestamp_millis(), "boot": 1, "seq": seq,
        "stream_id": "s1", "object_type": "person", "confidence": 0.8,
        "bbox": {"x": 1, "y": 2, "width": 3, "height": 4},
    })
    .to_string()
    .into_bytes()
}

async fn seqs(store: &Store, node: &str) -> Vec<i64> {
    let rows = store
        .detections(DetectionFilter {
            node: Some(node.into()),
            from_ms: 0,
            to_ms: i64::MAX,
            limit: 1_000_000,
            ..DetectionFilter::default()
        })
        .await
        .unwrap();
    rows.iter().map(|r| r.seq).collect()
}

/// A server process, killed when dropped (a failed test leaves none behind).
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` and waits until it answers (its migrations are done by then).
async fn serve(db: &str, broker: &str, client_id: &str) -> Served {
    let http = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_urbanstream"))
        .arg("serve")
        .env("URBANSTREAM__DATABASE__URL", db)
        .env("URBANSTREAM__HTTP__LISTEN", &http)
        .env("URBANSTREAM__TELTONIKA__LISTEN", "127.0.0.1:0")
        .env("URBANSTREAM__MQTT__URL", broker)
        .env("URBANSTREAM__MQTT__CLIENT_ID", client_id)
        .env("URBANSTREAM__EDGE__REGISTER_UNKNOWN", "true")
        .env("URBANSTREAM__LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(&http).await.is_err() {
        assert!(Instant::now() < until, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Served(child)
}

#[tokio::test]
async fn a_server_killed_mid_stream_loses_nothing_and_stores_each_message_once() {
    let dir = std::env::temp_dir().join(format!("us_kill_{}_{}", std::process::id(), free_port()));
    let broker = Mosquitto::start(free_port(), dir.join("mosquitto"));
    let url = format!("mqtt://{}", broker.addr());
    let db = format!("sqlite://{}/urbanstream.db", dir.display());
    let client_id = format!("urbanstream-kill-{}", broker.port);
    let mut server = serve(&db, &url, &client_id).await;
    let store = Store::open(&db, 1).await.unwrap();
    // The server's subscription must exist before the node publishes.
    let until = Instant::now() + Duration::from_secs(20);
    let mut probe = MqttNode::connect(broker.addr(), "probe", NodeOptions::default())
        .await
        .unwrap();
    loop {
        probe
            .publish_acked("edge-qi/detection/probe", message("probe", 1))
            .await;
        if !seqs(&store, "probe").await.is_empty() {
            break;
        }
        assert!(Instant::now() < until, "server not consuming");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let total = 3000i64;
    let mut node = MqttNode::connect(broker.addr(), "cam-k", NodeOptions::default())
        .await
        .unwrap();
    for seq in 1..=total {
        node.client
            .publish(
                "edge-qi/detection/cam-k",
                rumqttc::QoS::AtLeastOnce,
                false,
                message("cam-k", seq),
            )
            .await
            .unwrap();
    }
    // Kill it once it is part way through.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let n = seqs(&store, "cam-k").await.len() as i64;
        if n > 0 {
            assert!(
                n < total,
                "the server took everything before it could be killed"
            );
            break;
        }
        assert!(Instant::now() < until, "nothing stored");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    let at_kill = seqs(&store, "cam-k").await.len();
    // Every message is with the broker (acknowledged to the node).
    let mut acked = 0;
    while acked < total {
        match node.next(Duration::from_secs(10)).await {
            Some(Seen::Acked(_)) => acked += 1,
            Some(_) => {}
            None => panic!("broker acknowledged {acked} of {total}"),
        }
    }
    let server = serve(&db, &url, &client_id).await;
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let mut got = seqs(&store, "cam-k").await;
        if got.len() as i64 == total {
            got.sort_unstable();
            got.dedup();
            assert_eq!(got, (1..=total).collect::<Vec<_>>(), "each message once");
            break;
        }
        assert!(
            Instant::now() < until,
            "{} of {total} stored ({at_kill} before the kill)",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("stored before the kill: {at_kill} of {total}; the rest after the restart");
    drop(server);
    drop(broker);
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_rt::test]
async fn while_the_database_is_gone_pubacks_stop_and_nothing_is_lost() {
    let (name, url) = fresh_pg().await;
    let app = TestApp::start(settings(|s| {
        s.database.url = url;
        s.edge.register_unknown = true;
        s.edge.authenticate = false;
    }))
    .await;
    let addr = app.server.mqtt_addr.unwrap();
    let mut node = MqttNode::connect(addr, "cam-db", NodeOptions::default())
        .await
        .unwrap();
    node.publish_acked("edge-qi/detection/cam-db", message("cam-db", 1))
        .await;

    // The database refuses connections and drops the open ones.
    pg_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    pg_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    let total = 50i64;
    for seq in 2..=total {
        node.client
            .publish(
                "edge-qi/detection/cam-db",
                rumqttc::QoS::AtLeastOnce,
                false,
                message("cam-db", seq),
            )
            .await
            .unwrap();
    }
    // No PUBACK while nothing can be committed.
    let outage = Instant::now() + Duration::from_secs(4);
    while Instant::now() < outage {
        if let Some(Seen::Acked(p)) = node.next(Duration::from_millis(100)).await {
            panic!("PUBACK {p} while the database was down");
        }
    }
    pg_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    let mut acked = 0;
    while acked < total - 1 {
        match node.next(Duration::from_secs(20)).await {
            Some(Seen::Acked(_)) => acked += 1,
            Some(_) => {}
            None => panic!(
                "{acked} of {} acknowledged after the database came back",
                total - 1
            ),
        }
    }
    // Acknowledged means stored.
    let mut got = seqs(&app.server.store, "cam-db").await;
    got.sort_unstable();
    assert_eq!(got, (1..=total).collect::<Vec<_>>());
}
