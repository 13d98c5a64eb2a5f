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

/// A PostgreSQL server of the test's own, serving TLS with a certificate of `ca` for
/// `db.city.internal` and refusing connections without TLS.
struct PgCluster {
    dir: PathBuf,
    port: u16,
    ctl: PathBuf,
}

/// Runs `program` as the `postgres` user when this process is root (the server refuses
/// to run as root).
fn as_postgres(program: &Path, args: &[&str]) -> std::process::Output {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false);
    let mut cmd = if root {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        std::process::Command::new(program)
    };
    cmd.args(args).output().unwrap()
}

/// The directory of the server's programs: Debian keeps them off the PATH.
fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions
        .pop()
        .or_else(|| {
            let out = std::process::Command::new("pg_config")
                .arg("--bindir")
                .output()
                .ok()?;
            Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
        .expect("PostgreSQL's server programs")
}

impl PgCluster {
    fn start(ca: &Ca, name: &str) -> Self {
        let bin = pg_bin();
        let dir =
            std::env::temp_dir().join(format!("urbanstream-pgtls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::process::Command::new("chown")
            .args(["postgres:", dir.to_str().unwrap()])
            .status();
        let data = dir.join("data");
        let out = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let mut params = CertificateParams::new(vec!["db.city.internal".to_string()]).unwrap();
        params.serial_number = Some(7u64.into());
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca.issuer).unwrap();
        std::fs::write(data.join("server.crt"), cert.pem()).unwrap();
        std::fs::write(data.join("server.key"), key.serialize_pem()).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             fsync = off\nmax_connections = 50\n",
            dir.display()
        );
        let mut pg_conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        pg_conf.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), pg_conf).unwrap();
        let _ = std::process::Command::new("chown")
            .args(["-R", "postgres:", dir.to_str().unwrap()])
            .status();
        let _ = std::process::Command::new("chmod")
            .args(["0600", data.join("server.key").to_str().unwrap()])
            .status();
        let ctl = bin.join("pg_ctl");
        let log = dir.join("log");
        let out = as_postgres(
            &ctl,
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Self { dir, port, ctl }
    }

    /// A URL for `host` (reached at 127.0.0.1) with these TLS parameters.
    fn url(&self, host: &str, tls: &str) -> String {
        format!(
            "postgres://postgres@{host}:{}/postgres?hostaddr=127.0.0.1&{tls}",
            self.port
        )
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        as_postgres(
            &self.ctl,
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[actix_rt::test]
async fn postgres_over_tls_as_sslmode_asks() {
    use urbanstream_schema::store::Store;
    let (ca, other) = (Ca::new("city CA"), Ca::new("someone else"));
    let pg = PgCluster::start(&ca, "modes");
    let dir = temp_dir("pg");
    let ca_file = dir.join("ca.crt");
    let other_file = dir.join("other.crt");
    std::fs::write(&ca_file, ca.issuer.pem()).unwrap();
    std::fs::write(&other_file, other.issuer.pem()).unwrap();
    let root = |f: &Path| format!("sslrootcert={}", f.display());

    // The server takes TLS only: a plain connection is refused by it.
    let refused = Store::open(&pg.url("db.city.internal", "sslmode=disable"), 2).await;
    let e = refused.err().expect("no TLS, no entry").to_string();
    assert!(
        e.contains("pg_hba.conf") || e.contains("no encryption"),
        "{e}"
    );
    // Another CA: refused at the handshake, by the client.
    let e = Store::open(
        &pg.url(
            "db.city.internal",
            &format!("sslmode=verify-ca&{}", root(&other_file)),
        ),
        2,
    )
    .await
    .err()
    .expect("a server of another CA is not trusted")
    .to_string();
    assert!(e.contains("certificate"), "{e}");
    // The right CA but another name: verify-full refuses, verify-ca takes it.
    let e = Store::open(
        &pg.url(
            "localhost",
            &format!("sslmode=verify-full&{}", root(&ca_file)),
        ),
        2,
    )
    .await
    .err()
    .expect("the certificate does not name localhost")
    .to_string();
    assert!(e.contains("certificate"), "{e}");
    Store::open(
        &pg.url(
            "localhost",
            &format!("sslmode=verify-ca&{}", root(&ca_file)),
        ),
        2,
    )
    .await
    .expect("verify-ca checks the chain only");
    Store::open(&pg.url("localhost", "sslmode=require"), 2)
        .await
        .expect("require encrypts without checking");

    // The whole service on verify-full: migrations, the pool and the COPY path all over TLS.
    let url = pg.url(
        "db.city.internal",
        &format!("sslmode=verify-full&{}", root(&ca_file)),
    );
    let app = TestApp::start(settings(|s| {
        s.database.url = url;
        s.teltonika.register_unknown = true;
    }))
    .await;
    let mut opts = urbanstream::simulate::Options::new(app.server.teltonika_addr);
    opts.devices = 5;
    opts.rate = 10.0;
    opts.duration = Duration::from_secs(2);
    opts.send_interval = Duration::from_millis(200);
    opts.imei_base = 352_100_000_000_000;
    let report = common::run_simulation(opts).await;
    assert!(
        report.summary.acked > 0 && report.summary.acked == report.summary.sent,
        "{:?}",
        report.summary
    );
    let mut stored = 0;
    for d in app.server.store.devices().await.unwrap() {
        stored += app
            .server
            .store
            .history(d.id, 0, i64::MAX, 1_000_000)
            .await
            .unwrap()
            .len() as u64;
    }
    assert_eq!(
        stored, report.summary.acked,
        "every acknowledged record is stored over TLS"
    );
    app.server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A Redis server of the test's own speaking TLS only, with a certificate of `ca`.
struct RedisTls {
    child: std::process::Child,
    port: u16,
}

impl RedisTls {
    fn start(ca: &Ca, dir: &Path) -> Self {
        let files = ca.server_files(dir, 3);
        let ca_file = dir.join("redis-ca.crt");
        std::fs::write(&ca_file, ca.issuer.pem()).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(&files.cert_file)
            .arg("--tls-key-file")
            .arg(&files.key_file)
            .arg("--tls-ca-cert-file")
            .arg(&ca_file)
            .args(["--tls-auth-clients", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }
}

impl Drop for RedisTls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_rt::test]
async fn redis_over_tls_with_the_right_ca_only() {
    let dir = temp_dir("redis");
    let (ca, other) = (Ca::new("city CA"), Ca::new("someone else"));
    let redis = RedisTls::start(&ca, &dir);
    let url = format!("rediss://localhost:{}", redis.port);
    let other_file = dir.join("other.crt");
    std::fs::write(&other_file, other.issuer.pem()).unwrap();

    // Trusting another CA: no connection, ingest goes on locally, readiness says so.
    let app = TestApp::start(settings(|s| {
        s.redis.url = Some(url.clone());
        s.redis.ca_file = Some(other_file.clone());
    }))
    .await;
    let mut refused = false;
    for _ in 0..50 {
        if app
            .metric("urbanstream_redis_errors_total{op=\"connect\"}")
            .await
            >= 1.0
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "a server of another CA is refused");
    let (status, _) = app.get("/ready").await;
    assert_eq!(status, 503);
    app.server.stop().await;

    // The right CA: the latest state lands in Redis over TLS.
    let ca_file = dir.join("redis-ca.crt");
    let prefix = format!("tls:{}:", std::process::id());
    let app = TestApp::start(settings(|s| {
        s.redis.url = Some(url.clone());
        s.redis.ca_file = Some(ca_file.clone());
        s.redis.prefix = prefix.clone();
    }))
    .await;
    let mut ready = false;
    for _ in 0..50 {
        if app.get("/ready").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "Redis over TLS is up");
    let id = imei(356_307_042_441_002);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    dev.send(&encode_avl_frame(CodecId::Codec8, &[record(now_ms(), 44.77, 17.19)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let client = redis::Client::build_with_tls(
        url.as_str(),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(&ca_file).unwrap()),
        },
    )
    .unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut latest: Option<String> = None;
    for _ in 0..50 {
        latest = redis::cmd("GET")
            .arg(format!("{prefix}device:{id}:latest"))
            .query_async(&mut conn)
            .await
            .unwrap();
        if latest.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let latest: serde_json::Value =
        serde_json::from_str(&latest.expect("latest state in Redis")).unwrap();
    assert_eq!(latest["imei"], id.to_string());
    app.server.stop().await;
    drop(redis);
    let _ = std::fs::remove_dir_all(dir);
}
