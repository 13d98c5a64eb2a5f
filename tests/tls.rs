//! TLS on every listener: HTTP and WebSocket, the embedded MQTT broker, Teltonika. Each test
//! makes its own certificate authorities; a client that trusts the server's CA gets through,
//! one that trusts another CA is refused at the handshake, and a rotated certificate is
//! served without a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{imei, now_ms, record, settings, TestApp, WAIT};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use urbanstream_actors::teltonika::codec::{encode_avl_frame, encode_login, CodecId};
use urbanstream_actors::tls::TlsFiles;

/// A certificate authority.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server certificate for localhost and 127.0.0.1, written to `dir` as PEM files.
    fn server_files(&self, dir: &Path, serial: u64) -> TlsFiles {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.serial_number = Some(serial.into());
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let files = TlsFiles {
            cert_file: dir.join("server.crt"),
            key_file: dir.join("server.key"),
        };
        std::fs::write(&files.cert_file, cert.pem()).unwrap();
        std::fs::write(&files.key_file, key.serialize_pem()).unwrap();
        files
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("urbanstream-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A TLS client trusting `ca` only.
fn connector(ca: &Ca) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der()).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A TLS connection to `addr` as `localhost`; `Err` when the handshake fails.
async fn connect(ca: &Ca, addr: std::net::SocketAddr) -> Result<Tls, std::io::Error> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(WAIT, connector(ca).connect(name, tcp))
        .await
        .map_err(|_elapsed| std::io::Error::other("handshake timed out"))?
}

/// The certificate the server presented (DER).
fn served_cert(tls: &Tls) -> Vec<u8> {
    let (_, conn) = tls.get_ref();
    conn.peer_certificates().unwrap()[0].as_ref().to_vec()
}

async fn https(tls: &mut Tls, method: &str, path: &str, body: &str) -> String {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, tls.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn https_get(tls: &mut Tls, path: &str) -> String {
    https(tls, "GET", path, "").await
}

/// One series of /metrics, read over HTTPS.
async fn https_metric(ca: &Ca, addr: std::net::SocketAddr, series: &str) -> f64 {
    let mut tls = connect(ca, addr).await.unwrap();
    let body = https_get(&mut tls, "/metrics").await;
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[actix_rt::test]
async fn https_and_wss_with_the_right_ca_only_and_a_rotated_certificate_without_restart() {
    let dir = temp_dir("http");
    let (ca, other) = (Ca::new("city CA"), Ca::new("someone else"));
    let files = ca.server_files(&dir, 1);
    let app = TestApp::start(settings(|s| s.http.tls = Some(files.clone()))).await;
    let addr = app.server.http_addr;

    let mut tls = connect(&ca, addr).await.expect("the city's CA is trusted");
    let first = served_cert(&tls);
    let answer = https_get(&mut tls, "/health").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        connect(&other, addr).await.is_err(),
        "a client of another CA refuses the server"
    );
    // Plain HTTP on the TLS port gets no answer it could read as HTTP.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, plain.read(&mut buf))
        .await
        .map_or(0, |r| r.unwrap_or(0));
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("200 OK"));

    // WebSocket over TLS, signed in with the admin's token (signed in over HTTPS).
    let mut tls = connect(&ca, addr).await.unwrap();
    let login = serde_json::json!({"username": "admin", "password": common::ADMIN_PASSWORD});
    let answer = https(&mut tls, "POST", "/api/v1/auth/login", &login.to_string()).await;
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let token: serde_json::Value = serde_json::from_str(body).unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let tls = connect(&ca, addr).await.unwrap();
    let url = format!("wss://localhost:{}/ws?token={token}", addr.port());
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls).await.unwrap();
    use futures_util::StreamExt;
    let hello = tokio::time::timeout(WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(hello.to_string().contains("authenticated"), "{hello}");

    // The certificate rotates: the next handshakes get the new one, no restart.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    ca.server_files(&dir, 2);
    let mut rotated = None;
    for _ in 0..30 {
        let tls = connect(&ca, addr).await.unwrap();
        if served_cert(&tls) != first {
            rotated = Some(tls);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut tls = rotated.expect("the rotated certificate is served");
    assert!(https_get(&mut tls, "/health")
        .await
        .starts_with("HTTP/1.1 200"));
    // A rotation that leaves a broken file keeps the certificate in force.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    std::fs::write(&files.key_file, "not a key").unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut tls = connect(&ca, addr).await.expect("still served");
    assert!(https_get(&mut tls, "/health")
        .await
        .starts_with("HTTP/1.1 200"));
    assert!(
        https_metric(&ca, addr, "urbanstream_tls_reloads_total{result=\"error\"}").await >= 1.0
    );
    app.server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_rt::test]
async fn teltonika_over_tls_is_acknowledged_like_tcp() {
    let dir = temp_dir("teltonika");
    let (ca, other) = (Ca::new("city CA"), Ca::new("someone else"));
    let files = ca.server_files(&dir, 1);
    let app = TestApp::start(settings(|s| {
        s.http.tls = Some(files);
        s.teltonika.tls_listen = Some("127.0.0.1:0".parse().unwrap());
    }))
    .await;
    let addr = app.server.teltonika_tls_addr.expect("a TLS listener");
    assert!(connect(&other, addr).await.is_err());
    let mut tls = connect(&ca, addr).await.unwrap();
    let id = imei(356_307_042_441_003);
    tls.write_all(&encode_login(id)).await.unwrap();
    let mut byte = [0u8; 1];
    tls.read_exact(&mut byte).await.unwrap();
    assert_eq!(byte[0], 1, "login accepted");
    let t = now_ms();
    let frame = encode_avl_frame(CodecId::Codec8, &[record(t, 44.77, 17.19)]).unwrap();
    tls.write_all(&frame).await.unwrap();
    let mut ack = [0u8; 4];
    tokio::time::timeout(WAIT, tls.read_exact(&mut ack))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u32::from_be_bytes(ack), 1);
    let live = app.vehicle(id).unwrap().live.unwrap();
    assert_eq!(live.device_time.timestamp_millis(), t as i64);
    let http = app.server.http_addr;
    assert!(
        https_metric(
            &ca,
            http,
            "urbanstream_tls_handshake_failures_total{listener=\"teltonika\"}"
        )
        .await
            >= 1.0
    );
    app.server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_rt::test]
async fn mqtt_over_tls_on_the_embedded_broker() {
    let dir = temp_dir("mqtt");
    let (ca, other) = (Ca::new("city CA"), Ca::new("someone else"));
    let files = ca.server_files(&dir, 1);
    let app = TestApp::start(settings(|s| {
        s.http.tls = Some(files);
        s.mqtt.tls_listen = Some("127.0.0.1:0".parse().unwrap());
        s.edge.register_unknown = true;
        s.edge.authenticate = false;
    }))
    .await;
    let addr = app.server.mqtt_tls_addr.expect("a TLS listener");
    let node = |ca: &Ca| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der()).unwrap();
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut o = rumqttc::MqttOptions::new("cam-tls", "localhost", addr.port());
        o.set_keep_alive(Duration::from_secs(5));
        o.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(Arc::new(config)),
        ));
        o
    };
    // The wrong CA: the connection fails before CONNACK.
    let (_, mut refused) = rumqttc::AsyncClient::new(node(&other), 10);
    let first = tokio::time::timeout(WAIT, refused.poll()).await.unwrap();
    assert!(first.is_err(), "{first:?}");
    // The right CA: a heartbeat is stored and acknowledged.
    let (client, mut events) = rumqttc::AsyncClient::new(node(&ca), 10);
    let beat = serde_json::json!({"node_id": "cam-tls", "cpu_usage": 5.0, "memory_usage": 10.0,
        "status": "active", "boot": 1, "seq": 1});
    client
        .publish(
            "edge-qi/nodes/cam-tls/heartbeat",
            rumqttc::QoS::AtLeastOnce,
            false,
            beat.to_string(),
        )
        .await
        .unwrap();
    let acked = tokio::time::timeout(WAIT, async {
        loop {
            if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) =
                events.poll().await.unwrap()
            {
                return;
            }
        }
    })
    .await;
    assert!(acked.is_ok(), "PUBACK over TLS");
    let samples = app
        .server
        .store
        .node_samples("cam-tls", 0, i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(samples.len(), 1);
    app.server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
