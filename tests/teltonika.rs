//! Teltonika ingest over real TCP and UDP, against a running server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::Duration;

use common::{imei, now_ms, record, settings, TestApp, WAIT};
use urbanstream::simulate;
use urbanstream_actors::commands::{CommandError, Deliver};
use urbanstream_actors::entity::{EntityKey, Io};
use urbanstream_actors::teltonika::codec::{
    decode_command_frame, encode_avl_frame, encode_command_frame, encode_udp, AvlRecord, CodecId,
    CommandFrame,
};

const REGISTERED: u64 = 356_307_042_441_000;

#[actix_rt::test]
async fn hundreds_of_simulated_devices_every_record_once_in_order() {
    let app = TestApp::start(settings(|s| s.teltonika.register_unknown = true)).await;
    let mut opts = simulate::Options::new(app.server.teltonika_addr);
    opts.devices = 300;
    opts.rate = 20.0;
    opts.duration = Duration::from_secs(3);
    opts.send_interval = Duration::from_millis(250);
    opts.ack_timeout = Duration::from_secs(20);
    opts.imei_base = 351_000_000_000_000;
    let report = common::run_simulation(opts).await;

    let s = &report.summary;
    assert_eq!(s.devices, 300);
    assert!(
        s.sent > 300 * 20,
        "each device sent a few seconds of records: {s:?}"
    );
    assert_eq!(s.acked, s.sent, "every record acknowledged: {s:?}");
    assert_eq!(s.resent, 0, "{s:?}");
    assert_eq!(s.login_rejected, 0);

    let seen = app.take().await;
    assert_eq!(seen.len(), 300);
    let mut total = 0;
    for d in &report.devices {
        let imei = d.imei.unwrap();
        let got = &seen[&imei];
        assert_eq!(
            got.len() as u64,
            d.acked,
            "device {imei}: each acknowledged record reached its actor once"
        );
        assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "device {imei}: in device-time order"
        );
        assert!(got.iter().all(|(_, late)| !late));
        assert_eq!(got.first().map(|x| x.0), d.first_ts);
        assert_eq!(got.last().map(|x| x.0), d.last_ts);
        total += got.len() as u64;
        let snap = app.vehicle(imei).unwrap();
        assert_eq!(snap.records_total, d.acked);
        let live = snap.live.unwrap();
        assert_eq!(
            live.device_time.timestamp_millis() as u64,
            d.last_ts.unwrap()
        );
        let pos = live.position.unwrap();
        assert!(
            (44.7..44.8).contains(&pos.lat) && (17.1..17.3).contains(&pos.lon),
            "{pos:?}"
        );
        assert_eq!(live.values.bool(&Io::Ignition), Some(true));
    }
    assert_eq!(total, s.acked);
    app.server.stop().await;
}

#[actix_rt::test]
async fn unknown_imei_gets_00_and_is_disconnected() {
    let app = TestApp::start(settings(|_| {})).await;
    let before = app
        .metric("urbanstream_teltonika_logins_total{result=\"rejected\"}")
        .await;
    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(490_154_203_237_518)).await, 0x00);
    assert!(dev.closed_within(WAIT).await);
    let after = app
        .metric("urbanstream_teltonika_logins_total{result=\"rejected\"}")
        .await;
    assert!(after >= before + 1.0);

    let mut dev = app.device().await;
    assert_eq!(
        dev.login(imei(REGISTERED)).await,
        0x01,
        "a registered IMEI is accepted"
    );
    app.server.stop().await;
}

#[actix_rt::test]
async fn malformed_login_gets_00() {
    let app = TestApp::start(settings(|_| {})).await;
    let mut dev = app.device().await;
    dev.send(b"\x00\x0F35630704244101A").await;
    let mut reply = [0u8; 1];
    tokio::io::AsyncReadExt::read_exact(&mut dev.stream, &mut reply)
        .await
        .unwrap();
    assert_eq!(reply[0], 0);
    assert!(dev.closed_within(WAIT).await);
    app.server.stop().await;
}

#[actix_rt::test]
async fn bad_crc_gets_no_ack_and_is_counted_and_stream_goes_on() {
    let app = TestApp::start(settings(|_| {})).await;
    let before = app
        .metric("urbanstream_teltonika_frames_rejected_total{reason=\"crc\"}")
        .await;
    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(REGISTERED + 1)).await, 1);
    let t = now_ms();
    let mut bad = encode_avl_frame(CodecId::Codec8Ext, &[record(t, 44.77, 17.19)]).unwrap();
    let n = bad.len();
    bad[n - 1] ^= 0xFF;
    dev.send(&bad).await;
    assert_eq!(
        dev.ack(Duration::from_millis(300)).await,
        None,
        "no ACK for a corrupt frame"
    );
    // The device resends it intact, after a keep-alive byte.
    dev.send(&[0xFF]).await;
    dev.send(
        &encode_avl_frame(
            CodecId::Codec8Ext,
            &[record(t, 44.77, 17.19), record(t + 1000, 44.78, 17.19)],
        )
        .unwrap(),
    )
    .await;
    assert_eq!(dev.ack(WAIT).await, Some(2));
    let after = app
        .metric("urbanstream_teltonika_frames_rejected_total{reason=\"crc\"}")
        .await;
    assert!(after >= before + 1.0);
    let seen = app.take().await;
    assert_eq!(
        seen[&imei(REGISTERED + 1)],
        vec![(t, false), (t + 1000, false)]
    );
    app.server.stop().await;
}

#[actix_rt::test]
async fn a_peer_that_keeps_sending_garbage_is_disconnected() {
    let app = TestApp::start(settings(|_| {})).await;
    // Bad CRC three times in a row.
    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(REGISTERED + 2)).await, 1);
    let mut bad = encode_avl_frame(CodecId::Codec8, &[record(now_ms(), 44.77, 17.19)]).unwrap();
    let n = bad.len();
    bad[n - 2] ^= 0x01;
    for _ in 0..3 {
        dev.send(&bad).await;
    }
    assert!(dev.closed_within(WAIT).await);
    // Not Teltonika at all.
    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(REGISTERED + 2)).await, 1);
    dev.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(dev.closed_within(WAIT).await);
    // A length field pointing far beyond the maximum frame.
    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(REGISTERED + 2)).await, 1);
    dev.send(&[0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0x08]).await;
    assert!(dev.closed_within(WAIT).await);
    let oversize = app
        .metric("urbanstream_teltonika_frames_rejected_total{reason=\"oversize\"}")
        .await;
    assert!(oversize >= 1.0);
    app.server.stop().await;
}

#[actix_rt::test]
async fn late_records_are_flagged_and_do_not_move_the_position_back() {
    let app = TestApp::start(settings(|_| {})).await;
    let id = imei(REGISTERED + 3);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let t = now_ms();
    dev.send(
        &encode_avl_frame(
            CodecId::Codec16,
            &[AvlRecord {
                generation_type: Some(7),
                ..record(t, 44.7722, 17.1910)
            }],
        )
        .unwrap(),
    )
    .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    // The buffer flushed after an outage: older records, one of them out of order.
    let old = [
        AvlRecord {
            generation_type: Some(7),
            ..record(t - 60_000, 44.70, 17.10)
        },
        AvlRecord {
            generation_type: Some(7),
            ..record(t - 120_000, 44.71, 17.11)
        },
    ];
    dev.send(&encode_avl_frame(CodecId::Codec16, &old).unwrap())
        .await;
    assert_eq!(
        dev.ack(WAIT).await,
        Some(2),
        "late records are still accepted"
    );
    let snap = app.vehicle(id).unwrap();
    assert_eq!(snap.late_total, 2);
    let live = snap.live.unwrap();
    assert_eq!(live.device_time.timestamp_millis() as u64, t);
    assert!((live.position.unwrap().lat - 44.7722).abs() < 1e-6);
    let seen = app.take().await;
    assert_eq!(
        seen[&id],
        vec![(t, false), (t - 120_000, true), (t - 60_000, true)]
    );
    app.server.stop().await;
}

#[actix_rt::test]
async fn a_reconnect_with_the_same_imei_replaces_the_older_session() {
    let app = TestApp::start(settings(|_| {})).await;
    let id = imei(REGISTERED + 4);
    let mut first = app.device().await;
    assert_eq!(first.login(id).await, 1);
    let mut second = app.device().await;
    assert_eq!(second.login(id).await, 1);
    assert!(
        first.closed_within(WAIT).await,
        "the older connection is closed"
    );
    second
        .send(&encode_avl_frame(CodecId::Codec8, &[record(now_ms(), 44.77, 17.19)]).unwrap())
        .await;
    assert_eq!(second.ack(WAIT).await, Some(1));

    // Commands go to the newer session; its answer resolves the request.
    let commands = app.server.commands.clone();
    let pending = actix_rt::spawn(async move {
        commands
            .send(Deliver {
                key: EntityKey::Tracker(id),
                text: "getinfo".into(),
            })
            .await
            .unwrap()
    });
    let expected = encode_command_frame(&CommandFrame::command("getinfo")).unwrap();
    let mut got = vec![0u8; expected.len()];
    tokio::time::timeout(
        WAIT,
        tokio::io::AsyncReadExt::read_exact(&mut second.stream, &mut got),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(got, expected, "Codec 12 command byte-exact on the wire");
    assert_eq!(decode_command_frame(&got).unwrap().text(), "getinfo");
    second
        .send(&encode_command_frame(&CommandFrame::response("RTC:2026/11/25 GPS:1 SAT:9")).unwrap())
        .await;
    assert_eq!(
        pending.await.unwrap(),
        Ok("RTC:2026/11/25 GPS:1 SAT:9".to_owned())
    );
    // No record-count ACK follows a Codec 12 response: the next 4 bytes are the next frame's ACK.
    second
        .send(&encode_avl_frame(CodecId::Codec8, &[record(now_ms() + 5, 44.77, 17.19)]).unwrap())
        .await;
    assert_eq!(second.ack(WAIT).await, Some(1));

    let offline = app
        .server
        .commands
        .send(Deliver {
            key: EntityKey::Tracker(imei(REGISTERED)),
            text: "getinfo".into(),
        })
        .await
        .unwrap();
    assert_eq!(offline, Err(CommandError::NotConnected));
    app.server.stop().await;
}

#[actix_rt::test]
async fn idle_sessions_are_closed() {
    let app = TestApp::start(settings(|s| {
        s.teltonika.idle_timeout = Duration::from_millis(300)
    }))
    .await;
    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(REGISTERED)).await, 1);
    assert!(dev.closed_within(Duration::from_secs(3)).await);
    app.server.stop().await;
}

#[actix_rt::test]
async fn udp_datagrams_are_acknowledged_after_the_vehicle_takes_them() {
    let app = TestApp::start(settings(|s| {
        s.teltonika.udp_listen = Some("127.0.0.1:0".parse().unwrap())
    }))
    .await;
    let server = app.server.udp_addr.unwrap();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let id = imei(REGISTERED + 2);
    let t = now_ms();
    let dgram = encode_udp(0xCAFE, 5, id, CodecId::Codec8, &[record(t, 44.77, 17.19)]).unwrap();
    sock.send_to(&dgram, server).await.unwrap();
    let mut buf = [0u8; 16];
    let (n, _) = tokio::time::timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], &[0x00, 0x05, 0xCA, 0xFE, 0x01, 0x05, 0x01]);
    // A corrupt datagram gets no answer; an unknown IMEI neither.
    let mut bad = dgram.clone();
    bad[4] = 0x02;
    sock.send_to(&bad, server).await.unwrap();
    let unknown = encode_udp(
        0xBEEF,
        6,
        imei(490_154_203_237_518),
        CodecId::Codec8,
        &[record(t, 44.77, 17.19)],
    )
    .unwrap();
    sock.send_to(&unknown, server).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sock.recv_from(&mut buf))
            .await
            .is_err()
    );
    assert_eq!(app.take().await[&id], vec![(t, false)]);
    app.server.stop().await;
}

#[actix_rt::test]
async fn health_and_metrics_are_served() {
    let app = TestApp::start(settings(|_| {})).await;
    let (status, body) = app.get("/health").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(REGISTERED)).await, 1);
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[record(now_ms(), 44.77, 17.19)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let (status, body) = app.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("urbanstream_teltonika_records_total"),
        "{body}"
    );
    assert!(
        body.contains("urbanstream_teltonika_ack_latency_seconds_bucket"),
        "{body}"
    );
    assert!(
        body.contains("# HELP urbanstream_teltonika_frames_rejected_total"),
        "{body}"
    );
    assert_eq!(app.get("/nope").await.0, 404);
    app.server.stop().await;
}

#[actix_rt::test]
async fn idle_vehicle_actors_stop_and_start_again_at_the_next_login() {
    let app = TestApp::start(settings(|s| {
        s.vehicle.offline_after = Duration::from_millis(200);
        s.vehicle.idle_stop_after = Duration::from_millis(400);
    }))
    .await;
    let id = imei(REGISTERED + 4);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    dev.send(&encode_avl_frame(CodecId::Codec8, &[record(now_ms(), 44.77, 17.19)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    drop(dev);
    let snapshot = || async { Ok::<_, ()>(app.vehicle(id)) };
    assert!(snapshot().await.unwrap().is_some());
    let mut gone = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if snapshot().await.unwrap().is_none() {
            gone = true;
            break;
        }
    }
    assert!(gone, "the idle vehicle actor was stopped");
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    dev.send(&encode_avl_frame(CodecId::Codec8, &[record(now_ms() + 10, 44.78, 17.19)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let s = snapshot().await.unwrap().expect("started again");
    assert_eq!(s.records_total, 1);
    app.server.stop().await;
}

/// A storm of first logins: every device is registered and let in, in a few batches rather
/// than one statement each, and each one's connection is recorded as presence.
async fn login_storm(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const N: u64 = 300;
    // The recorder is the process's: this test's share is the difference, so the storms of
    // the two backends take turns.
    static ONE_STORM_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_STORM_AT_A_TIME.lock().await;
    let registered = app
        .metric("urbanstream_registry_devices_registered_total")
        .await;
    let batches = app
        .metric("urbanstream_registry_registration_seconds_count")
        .await;
    let mut streams = Vec::new();
    for _ in 0..N {
        streams.push(
            tokio::net::TcpStream::connect(app.server.teltonika_addr)
                .await
                .unwrap(),
        );
    }
    for (i, s) in streams.iter_mut().enumerate() {
        let login = urbanstream_actors::teltonika::codec::encode_login(imei(
            353_000_000_000_000 + i as u64,
        ));
        s.write_all(&login).await.unwrap();
    }
    for s in &mut streams {
        let reply = tokio::time::timeout(Duration::from_secs(30), s.read_u8())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply, 1, "every new device is let in");
    }
    let registered = app
        .metric("urbanstream_registry_devices_registered_total")
        .await
        - registered;
    assert_eq!(registered, N as f64);
    let batches = app
        .metric("urbanstream_registry_registration_seconds_count")
        .await
        - batches;
    assert!(
        batches >= 1.0 && batches < (N / 3) as f64,
        "{batches} registrations for {N} devices"
    );
    let devices = app.server.store.devices().await.unwrap();
    let new: Vec<_> = devices
        .iter()
        .filter(|d| d.imei.starts_with("353"))
        .collect();
    assert_eq!(new.len() as u64, N);
    // Presence is written in batches too: every one of them is online shortly.
    let mut online = 0;
    for _ in 0..50 {
        let devices = app.server.store.devices().await.unwrap();
        online = devices
            .iter()
            .filter(|d| d.imei.starts_with("353") && d.online)
            .count();
        if online as u64 == N {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(online as u64, N, "presence of every device stored");
    drop(streams);
    app.server.stop().await;
}

#[actix_rt::test]
async fn a_login_storm_of_new_devices_is_registered_in_batches_sqlite() {
    login_storm(TestApp::start(settings(|s| s.teltonika.register_unknown = true)).await).await;
}

#[actix_rt::test]
async fn a_login_storm_of_new_devices_is_registered_in_batches_postgres() {
    let (_, url) = common::fresh_pg().await;
    login_storm(
        TestApp::start(settings(|s| {
            s.teltonika.register_unknown = true;
            s.database.url = url;
        }))
        .await,
    )
    .await;
}
