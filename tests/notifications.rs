//! Notifications end to end: an alert goes to a signed webhook, to an SMTP server
//! (aiosmtpd) and to a failing webhook whose deliveries end in the dead-letter table.
//! Device commands: sent to a connected tracker, queued for an offline one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{imei, now_ms, record, settings, TestApp, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use urbanstream::config::SmtpSection;
use urbanstream_actors::notify::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use urbanstream_actors::teltonika::codec::{
    decode_command_frame, encode_avl_frame, encode_command_frame, CodecId, CommandFrame,
};

/// One request a webhook receiver got: lower-case headers and the body.
#[derive(Debug)]
struct Hook {
    headers: Vec<(String, String)>,
    body: String,
}

impl Hook {
    fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP receiver answering every request with `status`; what it got comes out of the
/// channel.
async fn receiver(status: u16) -> (String, mpsc::UnboundedReceiver<Hook>) {
    receiver_with(status, Duration::ZERO, Arc::default()).await
}

/// Requests being answered now, and the most at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// Like [`receiver`], taking `delay` to answer and counting requests in flight.
async fn receiver_with(
    status: u16,
    delay: Duration,
    flight: Arc<InFlight>,
) -> (String, mpsc::UnboundedReceiver<Hook>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (tx, flight) = (tx.clone(), flight.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + length {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
                let now = flight.now.fetch_add(1, Ordering::SeqCst) + 1;
                flight.most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                flight.now.fetch_sub(1, Ordering::SeqCst);
                let _ = tx.send(Hook { headers, body });
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, rx)
}

/// An aiosmtpd server writing what it receives into a maildir; killed on drop.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn smtp_sink() -> SmtpSink {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("us-mail-{}-{port}", std::process::id()));
    let child = std::process::Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(&dir)
        .spawn()
        .expect("python3 with aiosmtpd (scripts/test.sh installs it)");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "aiosmtpd did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    SmtpSink { child, port, dir }
}

/// The messages in a maildir's `new` folder.
fn mails(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir.join("new"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn speeding(ts: u64, speed: u16) -> Vec<u8> {
    let mut r = record(ts, 44.77, 17.19);
    r.gps.speed = speed;
    encode_avl_frame(CodecId::Codec8Ext, &[r]).unwrap()
}

#[actix_rt::test]
async fn alerts_go_to_signed_webhooks_email_and_the_dead_letter_table() {
    let smtp = smtp_sink().await;
    let app = TestApp::start(settings(|s| {
        s.notifications.retry_base = Duration::from_millis(20);
        s.notifications.max_attempts = 3;
        s.notifications.smtp = Some(SmtpSection {
            host: "127.0.0.1".into(),
            port: smtp.port,
            tls: urbanstream_actors::notify::SmtpTls::None,
            username: None,
            password: None,
            from: "urbanstream <alerts@example.org>".into(),
        });
    }))
    .await;
    let (good_url, mut good) = receiver(200).await;
    let (bad_url, mut bad) = receiver(500).await;
    let secret = "a-shared-secret-of-some-length";
    let hook = app
        .created(
            "/api/v1/notifications/channels",
            json!({"name": "ops", "kind": "webhook", "target": good_url, "secret": secret}),
        )
        .await;
    assert_eq!(hook["signed"], true);
    assert!(hook.get("secret").is_none(), "the secret is never shown");
    let broken = app
        .created(
            "/api/v1/notifications/channels",
            json!({"name": "broken", "kind": "webhook", "target": bad_url}),
        )
        .await;
    let mail = app.created("/api/v1/notifications/channels",
        json!({"name": "duty", "kind": "email", "target": "duty@example.org, chief@example.org"}),
    )
    .await;
    for (body, why) in [
        (json!({"name": "x", "kind": "sms", "target": "123"}), "kind"),
        (
            json!({"name": "x", "kind": "webhook", "target": "ftp://x/y"}),
            "http",
        ),
        (
            json!({"name": "x", "kind": "email", "target": "nobody"}),
            "nobody",
        ),
        (
            json!({"name": "x", "kind": "webhook", "target": "http://x/y", "secret": "short"}),
            "secret",
        ),
    ] {
        let (s, e) = app
            .request("POST", "/api/v1/notifications/channels", Some(&body))
            .await;
        assert_eq!(s, 400, "{body}: {e}");
        assert!(e.contains(why), "{body}: {e}");
    }
    let ids = json!([hook["id"], broken["id"], mail["id"]]);
    app.created(
        "/api/v1/alerts/rules",
        json!({"name": "Speeding", "kind": "OVERSPEED", "severity": "CRITICAL", "channel_ids": ids,
            "params": {"limit_kmh": 50, "min_duration_s": 0}}),
    )
    .await;

    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(356_307_042_441_001)).await, 1);
    let t0 = now_ms() - 60_000;
    dev.send(&speeding(t0, 80)).await;
    assert_eq!(dev.ack(WAIT).await, Some(1));

    // The signed webhook: body, timestamp and signature check out.
    let got = tokio::time::timeout(WAIT, good.recv())
        .await
        .unwrap()
        .unwrap();
    let ts: i64 = got.header(TIMESTAMP_HEADER).unwrap().parse().unwrap();
    assert!((ts - (now_ms() / 1000) as i64).abs() < 30);
    assert_eq!(
        got.header(SIGNATURE_HEADER),
        Some(sign(secret, ts, got.body.as_bytes()).as_str())
    );
    assert_ne!(
        got.header(SIGNATURE_HEADER),
        Some(sign("another secret", ts, got.body.as_bytes()).as_str())
    );
    let payload: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(payload["event"], "alert.raised");
    assert_eq!(payload["alert"]["kind"], "OVERSPEED");
    assert_eq!(payload["alert"]["severity"], "CRITICAL");
    let alert_id = payload["alert"]["id"].as_str().unwrap().to_owned();

    // The failing one: three attempts, the same delivery id, then the dead-letter table.
    let mut deliveries = Vec::new();
    for _ in 0..3 {
        let h = tokio::time::timeout(WAIT, bad.recv())
            .await
            .unwrap()
            .unwrap();
        deliveries.push(h.header("x-urbanstream-delivery").unwrap().to_owned());
        assert!(
            h.header(SIGNATURE_HEADER).is_none(),
            "no secret, no signature"
        );
    }
    assert!(
        deliveries.windows(2).all(|w| w[0] == w[1]),
        "{deliveries:?}"
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    let letters = loop {
        let (_, body) = app.get("/api/v1/notifications/dead-letters").await;
        let v: Value = serde_json::from_str(&body).unwrap();
        if !v["items"].as_array().unwrap().is_empty() || tokio::time::Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let letter = &letters["items"][0];
    assert_eq!(letter["channel_id"], broken["id"]);
    assert_eq!(letter["alert_id"], alert_id.as_str());
    assert_eq!(letter["attempts"], 3);
    assert_eq!(letter["last_error"], "HTTP 500 Internal Server Error");
    assert_eq!(
        serde_json::from_str::<Value>(letter["payload"].as_str().unwrap()).unwrap()["alert"]["id"],
        alert_id.as_str()
    );
    assert_eq!(
        app.metric("urbanstream_notifications_total{channel=\"webhook\",outcome=\"dead_letter\"}")
            .await,
        1.0
    );

    // The e-mail, to both addresses.
    let deadline = tokio::time::Instant::now() + WAIT;
    let inbox = loop {
        let m = mails(&smtp.dir);
        if !m.is_empty() || tokio::time::Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let mail_text = &inbox[0];
    assert!(
        mail_text.contains("Subject: [CRITICAL] OVERSPEED raised"),
        "{mail_text}"
    );
    assert!(
        mail_text.contains("duty@example.org") && mail_text.contains("chief@example.org"),
        "{mail_text}"
    );
    assert!(mail_text.contains(&alert_id), "{mail_text}");

    // Back under the limit: the clear goes out too.
    dev.send(&speeding(t0 + 5_000, 30)).await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let got = tokio::time::timeout(WAIT, good.recv())
        .await
        .unwrap()
        .unwrap();
    let payload: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(payload["event"], "alert.cleared");
    assert_eq!(payload["alert"]["id"], alert_id.as_str());
    assert_eq!(payload["alert"]["status"], "CLEARED");
}

#[actix_rt::test]
async fn commands_reach_connected_devices_and_wait_for_offline_ones() {
    let app = TestApp::start(settings(|_| {})).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    ws.send(Message::Text(
        json!({"op": "subscribe", "topics": ["events"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let id = imei(356_307_042_441_002);

    // Offline: stored as QUEUED.
    let (s, body) = app
        .request(
            "POST",
            &format!("/api/v1/devices/{id}/commands"),
            Some(&json!({"command": "setdigout 1"})),
        )
        .await;
    assert_eq!(s, 202, "{body}");
    let queued: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(queued["status"], "QUEUED");
    assert_eq!(queued["created_by"], "admin");
    let cmd_id = queued["id"].as_i64().unwrap();
    for (body, status) in [
        (json!({"command": ""}), 400),
        (json!({"command": "getinfo\u{7}"}), 400),
        (json!({"text": "getinfo"}), 400),
    ] {
        let (s, e) = app
            .request(
                "POST",
                &format!("/api/v1/devices/{id}/commands"),
                Some(&body),
            )
            .await;
        assert_eq!(s, status, "{body}: {e}");
    }
    let (s, _) = app
        .request(
            "POST",
            "/api/v1/devices/356307042449999/commands",
            Some(&json!({"command": "getinfo"})),
        )
        .await;
    assert_eq!(s, 404, "unknown device");
    let analyst = app.user_token("ann", "ANALYST").await;
    let (s, _) = app
        .request_as(
            Some(&analyst),
            "POST",
            &format!("/api/v1/devices/{id}/commands"),
            Some(&json!({"command": "getinfo"})),
        )
        .await;
    assert_eq!(s, 403, "analysts do not command vehicles");

    // The device connects: the queued command goes out after the login, byte-exact.
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let expected = encode_command_frame(&CommandFrame::command("setdigout 1")).unwrap();
    let mut got = vec![0u8; expected.len()];
    tokio::time::timeout(WAIT, dev.stream.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decode_command_frame(&got).unwrap().text(), "setdigout 1");
    dev.send(&encode_command_frame(&CommandFrame::response("DOUT1:1 Timeout:INFINITY")).unwrap())
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let answered = loop {
        let (_, body) = app
            .get(&format!("/api/v1/devices/{id}/commands/{cmd_id}"))
            .await;
        let v: Value = serde_json::from_str(&body).unwrap();
        if v["status"] == "ANSWERED" || tokio::time::Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(answered["status"], "ANSWERED", "{answered}");
    assert_eq!(answered["response"], "DOUT1:1 Timeout:INFINITY");
    assert!(answered["sent_ms"].as_i64().unwrap() <= answered["answered_ms"].as_i64().unwrap());

    // Connected: sent at once.
    let (s, body) = app
        .request(
            "POST",
            &format!("/api/v1/devices/{id}/commands"),
            Some(&json!({"command": "getver"})),
        )
        .await;
    assert_eq!(s, 202, "{body}");
    let expected = encode_command_frame(&CommandFrame::command("getver")).unwrap();
    let mut got = vec![0u8; expected.len()];
    tokio::time::timeout(WAIT, dev.stream.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, expected);
    dev.send(&encode_command_frame(&CommandFrame::response("Ver:03.27.07")).unwrap())
        .await;

    // Each change is pushed as an event: queued, answered, queued, answered.
    let mut updates = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while updates.len() < 4 {
        let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout_at(deadline, ws.next()).await
        else {
            break;
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["data"]["event"]["kind"] == "command_updated" {
            let c = &v["data"]["event"]["command"];
            updates.push((
                c["command"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let expect = [
        ("setdigout 1", "QUEUED"),
        ("setdigout 1", "ANSWERED"),
        ("getver", "QUEUED"),
        ("getver", "ANSWERED"),
    ];
    assert_eq!(updates, expect.map(|(a, b)| (a.to_owned(), b.to_owned())));
    let (_, body) = app.get(&format!("/api/v1/devices/{id}/commands")).await;
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["items"][0]["response"], "Ver:03.27.07", "newest first");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[actix_rt::test]
async fn deliveries_wait_their_turn_beyond_the_concurrency_limit() {
    let app = TestApp::start(settings(|s| s.notifications.max_concurrent = 1)).await;
    let flight = Arc::new(InFlight::default());
    let (url, mut got) = receiver_with(200, Duration::from_millis(200), flight.clone()).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let ch = app
            .created(
                "/api/v1/notifications/channels",
                json!({"name": format!("hook {i}"), "kind": "webhook", "target": url}),
            )
            .await;
        ids.push(ch["id"].clone());
    }
    app.created("/api/v1/alerts/rules",
        json!({"name": "Speeding", "kind": "OVERSPEED", "channel_ids": ids, "params": {"limit_kmh": 50, "min_duration_s": 0}}),
    )
    .await;
    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(356_307_042_441_004)).await, 1);
    dev.send(&speeding(now_ms() - 10_000, 80)).await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    for _ in 0..3 {
        tokio::time::timeout(WAIT, got.recv())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(
        flight.most.load(Ordering::SeqCst),
        1,
        "one delivery at a time"
    );
}

#[actix_rt::test]
async fn commands_expire_while_offline_and_fail_without_an_answer() {
    let app = TestApp::start(settings(|s| {
        s.commands.queue_ttl = Duration::from_millis(200);
        s.teltonika.command_timeout = Duration::from_millis(300);
    }))
    .await;
    let id = imei(356_307_042_441_003);
    let path = format!("/api/v1/devices/{id}/commands");
    let (s, body) = app
        .request("POST", &path, Some(&json!({"command": "getinfo"})))
        .await;
    assert_eq!(s, 202, "{body}");
    let stale = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Connected after its time: the stale command is not sent; a fresh one is, and the
    // device never answers it.
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let (s, body) = app
        .request("POST", &path, Some(&json!({"command": "getver"})))
        .await;
    assert_eq!(s, 202, "{body}");
    let fresh = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap();
    let expected = encode_command_frame(&CommandFrame::command("getver")).unwrap();
    let mut got = vec![0u8; expected.len()];
    tokio::time::timeout(WAIT, dev.stream.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, expected, "only the fresh command goes out");
    let status = |cmd: i64| {
        let (app, path) = (&app, &path);
        async move {
            let (_, body) = app.get(&format!("{path}/{cmd}")).await;
            serde_json::from_str::<Value>(&body).unwrap()
        }
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    let failed = loop {
        let v = status(fresh).await;
        if v["status"] != "SENT" && v["status"] != "QUEUED"
            || tokio::time::Instant::now() > deadline
        {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert_eq!(failed["error"], "device did not answer in time");
    assert_eq!(status(stale).await["status"], "EXPIRED");
    assert_eq!(
        app.metric("urbanstream_commands_queued_total{outcome=\"failed\"}")
            .await,
        1.0
    );
}

#[actix_rt::test]
async fn channels_are_replaced_and_deleted() {
    let app = TestApp::start(settings(|_| {})).await;
    let ch = app
        .created(
            "/api/v1/notifications/channels",
            json!({"name": "ops", "kind": "email", "target": "ops@example.org"}),
        )
        .await;
    let path = format!("/api/v1/notifications/channels/{}", ch["id"]);
    let renamed = json!({"name": "night ops", "kind": "webhook", "target": "https://ops.example/hook", "secret": "0123456789abcdef", "enabled": false});
    let (s, body) = app.request("PUT", &path, Some(&renamed)).await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            v["name"].as_str(),
            v["kind"].as_str(),
            v["signed"].as_bool(),
            v["enabled"].as_bool()
        ),
        (Some("night ops"), Some("webhook"), Some(true), Some(false))
    );
    let (_, list) = app.get("/api/v1/notifications/channels").await;
    assert_eq!(
        serde_json::from_str::<Value>(&list).unwrap()["items"][0]["name"],
        "night ops"
    );
    let (s, _) = app.request("DELETE", &path, None).await;
    assert_eq!(s, 204);
    let (s, _) = app.request("DELETE", &path, None).await;
    assert_eq!(s, 404);
    let (s, _) = app.request("PUT", &path, Some(&renamed)).await;
    assert_eq!(s, 404);
}
