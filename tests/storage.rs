//! Durable history: every acknowledged record is in the database, once, on PostgreSQL and
//! SQLite; a database outage stops ACKs without losing anything.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::Duration;

use common::{fresh_pg, imei, now_ms, pg_admin, record, settings, TestApp, WAIT};
use urbanstream::simulate;
use urbanstream_actors::teltonika::codec::{encode_avl_frame, CodecId};

const REGISTERED: u64 = 356_307_042_441_000;

async fn stored(app: &TestApp, imei_s: &str) -> Vec<i64> {
    let devices = app.server.store.devices().await.unwrap();
    let Some(d) = devices.iter().find(|d| d.imei == imei_s) else {
        return vec![];
    };
    app.server
        .store
        .history(d.id, 0, i64::MAX, 1_000_000)
        .await
        .unwrap()
        .iter()
        .map(|r| r.device_time_ms)
        .collect()
}

async fn fleet_is_stored(app: TestApp) {
    let mut opts = simulate::Options::new(app.server.teltonika_addr);
    opts.devices = 100;
    opts.rate = 10.0;
    opts.duration = Duration::from_secs(2);
    opts.send_interval = Duration::from_millis(200);
    opts.imei_base = 352_000_000_000_000;
    let report = common::run_simulation(opts).await;
    assert_eq!(report.summary.acked, report.summary.sent);
    assert!(report.summary.acked >= 1000, "{:?}", report.summary);
    for d in &report.devices {
        let rows = stored(&app, &d.imei.unwrap().to_string()).await;
        assert_eq!(
            rows.len() as u64,
            d.acked,
            "every acknowledged record is stored once"
        );
        assert_eq!(rows.first().map(|&t| t as u64), d.first_ts);
        assert_eq!(rows.last().map(|&t| t as u64), d.last_ts);
    }
    // The simulated trackers report CAN values (LVCAN200 ids): one can_data row per record.
    let d = &report.devices[0];
    let device = app
        .server
        .store
        .device(&d.imei.unwrap().to_string())
        .await
        .unwrap()
        .unwrap();
    let can = app
        .server
        .store
        .can_data(device.id, 0, i64::MAX, 1_000_000)
        .await
        .unwrap();
    assert_eq!(can.len() as u64, d.acked);
    assert!(can
        .iter()
        .all(|c| c.engine_rpm.is_some() && c.fuel_level_l.is_some() && c.odometer_m.is_some()));
    // Buses drove and burnt fuel: the fleet summary adds it up.
    let (status, body) = app.get("/api/v1/fleet/summary").await;
    assert_eq!(status, 200, "{body}");
    let summary: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        summary["distance_today_km"].as_f64().unwrap() > 0.0,
        "{summary}"
    );
    assert!(
        summary["fuel_used_today_l"].as_f64().unwrap() >= 0.0,
        "{summary}"
    );
    app.server.stop().await;
}

#[actix_rt::test]
async fn acknowledged_records_are_in_sqlite() {
    fleet_is_stored(TestApp::start(settings(|s| s.teltonika.register_unknown = true)).await).await;
}

#[actix_rt::test]
async fn acknowledged_records_are_in_postgres() {
    let (_, url) = fresh_pg().await;
    fleet_is_stored(
        TestApp::start(settings(|s| {
            s.teltonika.register_unknown = true;
            s.database.url = url;
        }))
        .await,
    )
    .await;
}

#[actix_rt::test]
async fn a_retransmitted_frame_is_stored_once() {
    let app = TestApp::start(settings(|_| {})).await;
    let id = imei(REGISTERED);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let t = now_ms();
    let frame = encode_avl_frame(
        CodecId::Codec8Ext,
        &[
            record(t, 44.7722, 17.191),
            record(t + 1000, 44.7722, 17.191),
        ],
    )
    .unwrap();
    dev.send(&frame).await;
    assert_eq!(dev.ack(WAIT).await, Some(2));
    // The ACK was lost on the way: the device sends the same frame again.
    dev.send(&frame).await;
    assert_eq!(dev.ack(WAIT).await, Some(2));
    assert_eq!(
        stored(&app, &id.to_string()).await,
        vec![t as i64, t as i64 + 1000]
    );
    app.server.stop().await;
}

#[actix_rt::test]
async fn no_ack_while_postgres_refuses_and_nothing_lost_after() {
    let (name, url) = fresh_pg().await;
    let app = TestApp::start(settings(|s| {
        s.database.url = url;
        s.teltonika.ack_timeout = Duration::from_millis(1500);
    }))
    .await;
    let id = imei(REGISTERED + 1);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let t = now_ms();
    dev.send(&encode_avl_frame(CodecId::Codec8, &[record(t, 44.7722, 17.191)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));

    // The database goes away: new connections refused, open ones cut.
    pg_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    pg_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    let outage = [
        record(t + 1000, 44.7722, 17.191),
        record(t + 2000, 44.7722, 17.191),
    ];
    dev.send(&encode_avl_frame(CodecId::Codec8, &outage).unwrap())
        .await;
    assert_eq!(
        dev.ack(Duration::from_secs(1)).await,
        None,
        "no ACK before the rows are durable"
    );
    assert!(
        dev.closed_within(WAIT).await,
        "the session gives up after teltonika.ack_timeout"
    );
    // The failed write is counted (bb8 gives up on a connection after its 5 s timeout).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while app.metric_sum("urbanstream_db_flush_failures_total").await < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "a failed flush is counted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The database is back; the device reconnects and sends its unacknowledged records.
    pg_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let mut acked = None;
    for _ in 0..20 {
        dev.send(&encode_avl_frame(CodecId::Codec8, &outage).unwrap())
            .await;
        acked = dev.ack(Duration::from_secs(3)).await;
        if acked.is_some() {
            break;
        }
        dev = app.device().await;
        assert_eq!(dev.login(id).await, 1);
    }
    assert_eq!(acked, Some(2));
    let t = t as i64;
    assert_eq!(
        stored(&app, &id.to_string()).await,
        vec![t, t + 1000, t + 2000]
    );
    app.server.stop().await;
}

#[actix_rt::test]
async fn the_batcher_restarts_mid_stream_and_the_stream_goes_on() {
    let app = TestApp::start(settings(|s| s.teltonika.register_unknown = true)).await;
    let series = "urbanstream_actor_restarts_total{actor=\"db_batcher\"}";
    let before = app.metric(series).await;
    let mut opts = simulate::Options::new(app.server.teltonika_addr);
    opts.devices = 50;
    opts.rate = 20.0;
    opts.duration = Duration::from_secs(3);
    opts.send_interval = Duration::from_millis(100);
    opts.ack_timeout = Duration::from_secs(2);
    opts.imei_base = 353_000_000_000_000;
    let sim = actix_rt::spawn(common::run_simulation(opts));
    // Stop the aggregator twice while records stream in.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    app.server
        .batcher
        .send(urbanstream_actors::db_batcher::RestartActor)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    app.server
        .batcher
        .send(urbanstream_actors::db_batcher::RestartActor)
        .await
        .unwrap();
    let report = sim.await.unwrap();

    assert!(
        app.metric(series).await >= before + 2.0,
        "both restarts counted"
    );
    let s = &report.summary;
    assert_eq!(
        s.acked, s.sent,
        "every record acknowledged in the end: {s:?}"
    );
    for d in &report.devices {
        let rows = stored(&app, &d.imei.unwrap().to_string()).await;
        assert_eq!(
            rows.len() as u64,
            d.acked,
            "stored once each, resends included"
        );
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
    }
    app.server.stop().await;
}
