//! The store against a real PostgreSQL and a real SQLite file: the same answers on both.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

use std::sync::atomic::{AtomicU32, Ordering};

use urbanstream_schema::models::{CanRow, DetectionRow, NewEvent, TelemetryRow};
use urbanstream_schema::store::{Batch, DetectionFilter, Store, DAY_MS};

/// Server of the tests' databases (trust auth on this machine).
fn pg_base() -> String {
    std::env::var("URBANSTREAM_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh PostgreSQL database for one test, cloned from the migrated template.
async fn fresh_pg() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "us_store_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    urbanstream_schema::test_db::fresh_pg(&pg_base(), &name)
        .await
        .unwrap()
}

fn fresh_sqlite() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "us-store-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    format!("sqlite://{}/urbanstream.db", dir.display())
}

fn row(device_id: i64, t: i64) -> TelemetryRow {
    TelemetryRow {
        device_id,
        device_time_ms: t,
        server_time_ms: t + 5,
        lat: 44.77,
        lon: 17.19,
        altitude: 160,
        speed_kmh: 30,
        heading: 90,
        satellites: 9,
        fix: true,
        hdop: Some(0.8),
        ignition: Some(true),
        movement: Some(true),
        external_voltage_v: Some(27.6),
        battery_voltage_v: None,
        gsm_signal: Some(4),
        distance_m: 12.5,
        late: false,
        io: r#"{"raw":{"239":1}}"#.into(),
    }
}

async fn same_answers(store: Store) {
    let d1 = store
        .ensure_device("356307042441013", "FMC125", Some("Bus 12"), "tracker")
        .await
        .unwrap();
    let again = store
        .ensure_device("356307042441013", "FMC130", None, "tracker")
        .await
        .unwrap();
    assert_eq!(d1, again, "ensure_device keeps the first registration");
    let d2 = store
        .ensure_device("356307042441014", "FMC125", None, "tracker")
        .await
        .unwrap();
    assert_ne!(d1.id, d2.id);
    assert_eq!(store.devices().await.unwrap().len(), 2);

    // Three days of records for one device, one for the other.
    let day0 = 1_764_028_800_000; // 2025-11-25T00:00:00Z
    let rows: Vec<TelemetryRow> = (0..30)
        .map(|i| row(d1.id, day0 + i * 3 * 3_600_000))
        .chain([row(d2.id, day0)])
        .collect();
    let can: Vec<CanRow> = rows
        .iter()
        .take(3)
        .map(|r| CanRow {
            device_id: r.device_id,
            device_time_ms: r.device_time_ms,
            engine_rpm: Some(1200),
            fuel_level_l: Some(80.5),
            fuel_used_l: Some(
                1000.0 + (r.device_time_ms - rows[0].device_time_ms) as f64 / 3_600_000.0,
            ),
            dtc_codes: Some("P0420".into()),
            ..CanRow::default()
        })
        .collect();
    let trip = |t: i64| NewEvent {
        device_id: d1.id,
        time_ms: t,
        kind: "trip_started".into(),
        data: "{}".into(),
        subject: String::new(),
    };
    assert_eq!(
        store
            .write(Batch {
                telemetry: rows.clone(),
                can: can.clone(),
                events: vec![trip(day0), trip(day0 + 3_600_000)],
                ..Batch::default()
            })
            .await
            .unwrap(),
        31
    );
    // A retransmit of the same records is stored once.
    assert_eq!(
        store
            .write(Batch {
                telemetry: rows[..10].to_vec(),
                can: can.clone(),
                events: vec![trip(day0)],
                ..Batch::default()
            })
            .await
            .unwrap(),
        0
    );
    let mut mixed = rows[25..].to_vec();
    mixed.push(row(d1.id, day0 + 31 * 3 * 3_600_000));
    assert_eq!(
        store
            .write(Batch {
                telemetry: mixed,
                ..Batch::default()
            })
            .await
            .unwrap(),
        1
    );
    let stored_can = store.can_data(d1.id, 0, i64::MAX, 100).await.unwrap();
    assert_eq!(stored_can, can, "CAN rows stored once, in time order");
    // Three records 3 h apart, the counter rising by one litre an hour.
    assert!((store.fuel_used_since(0).await.unwrap() - 6.0).abs() < 1e-9);
    let evs = store.events(d1.id, 0, i64::MAX, 10).await.unwrap();
    assert_eq!(
        evs.iter().map(|e| e.time_ms).collect::<Vec<_>>(),
        vec![day0, day0 + 3_600_000],
        "events stored once"
    );
    // One fix entering two fences: two events, told apart by their subject; stored once.
    let enter = |fence: &str| NewEvent {
        device_id: d1.id,
        time_ms: day0 + 60_000,
        kind: "geofence_entered".into(),
        data: "{}".into(),
        subject: fence.into(),
    };
    for _ in 0..2 {
        store
            .write(Batch {
                events: vec![enter("7"), enter("9")],
                ..Batch::default()
            })
            .await
            .unwrap();
    }
    let evs = store.events(d1.id, 0, i64::MAX, 10).await.unwrap();
    let subjects: Vec<&str> = evs
        .iter()
        .filter(|e| e.kind == "geofence_entered")
        .map(|e| e.subject.as_str())
        .collect();
    assert_eq!(subjects, vec!["7", "9"]);

    let all = store.history(d1.id, 0, i64::MAX, 1000).await.unwrap();
    assert_eq!(all.len(), 31);
    assert!(all
        .windows(2)
        .all(|w| w[0].device_time_ms < w[1].device_time_ms));
    assert_eq!(all[0], rows[0]);
    let window = store
        .history(d1.id, day0 + DAY_MS, day0 + 2 * DAY_MS, 1000)
        .await
        .unwrap();
    assert_eq!(window.len(), 8);
    assert_eq!(store.history(d1.id, 0, i64::MAX, 5).await.unwrap().len(), 5);

    // Retention: everything before the third day goes.
    let dropped = store
        .drop_telemetry_before(day0 + 2 * DAY_MS)
        .await
        .unwrap();
    assert!(dropped > 0);
    let left = store.history(d1.id, 0, i64::MAX, 1000).await.unwrap();
    assert!(left.iter().all(|r| r.device_time_ms >= day0 + 2 * DAY_MS));
    assert_eq!(left.len(), 31 - 16);
    assert!(store
        .history(d2.id, 0, i64::MAX, 10)
        .await
        .unwrap()
        .is_empty());
    store.ping().await.unwrap();
}

#[tokio::test]
async fn postgres_store() {
    let store = Store::open(&fresh_pg().await, 4).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    same_answers(store.clone()).await;
    // Retention dropped whole partitions, not rows.
    assert_eq!(
        store
            .drop_telemetry_before(1_764_028_800_000 + 2 * DAY_MS)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn sqlite_store() {
    let url = fresh_sqlite();
    let store = Store::open(&url, 1).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    same_answers(store).await;
    // Reopening runs no migration twice and keeps the data.
    let again = Store::open(&url, 1).await.unwrap();
    assert_eq!(again.devices().await.unwrap().len(), 2);
}

fn detection(t: i64, object_type: &str, metadata: serde_json::Value) -> DetectionRow {
    DetectionRow {
        node_id: "cam-node".into(),
        time_ms: t,
        boot: 1,
        seq: t,
        idx: 0,
        received_ms: t + 3,
        stream_id: "door".into(),
        object_type: object_type.into(),
        confidence: 0.9,
        bbox_x: 0.1,
        bbox_y: 0.2,
        bbox_width: 0.1,
        bbox_height: 0.3,
        bbox_normalized: true,
        location: None,
        metadata: metadata.to_string(),
    }
}

/// Pictures of people leave their detections at the cut-off; the rest of every row stays.
async fn pictures_expire(store: Store) {
    let day0 = 1_764_028_800_000;
    let picture = serde_json::json!({"crop": "/9j/4AAQ", "colour": "red"});
    let old_person = detection(day0, "person", picture.clone());
    let old_image = detection(
        day0 + 1_000,
        "Person",
        serde_json::json!({"image": "/9j/4AAQ", "note": {"crop": "x"}}),
    );
    let old_car = detection(day0 + 2_000, "car", picture.clone());
    let new_person = detection(day0 + 2 * DAY_MS, "person", picture.clone());
    let batch = Batch {
        detections: vec![
            old_person.clone(),
            old_image.clone(),
            old_car.clone(),
            new_person.clone(),
        ],
        ..Batch::default()
    };
    store.write(batch).await.unwrap();
    assert_eq!(store.oldest_detection_ms().await.unwrap(), Some(day0));

    assert_eq!(
        store
            .strip_person_images(day0 - DAY_MS, day0 + DAY_MS)
            .await
            .unwrap(),
        2
    );
    // A second pass finds nothing left to change.
    assert_eq!(
        store
            .strip_person_images(day0 - DAY_MS, day0 + DAY_MS)
            .await
            .unwrap(),
        0
    );
    let rows = store
        .detections(DetectionFilter {
            from_ms: 0,
            to_ms: i64::MAX,
            limit: 10,
            ..DetectionFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    let meta = |i: usize| -> serde_json::Value { serde_json::from_str(&rows[i].metadata).unwrap() };
    assert_eq!(meta(0), serde_json::json!({"colour": "red"}));
    assert_eq!(meta(1), serde_json::json!({"note": {"crop": "x"}}));
    assert_eq!(meta(2), picture, "not a person: kept");
    assert_eq!(meta(3), picture, "younger than the cut-off: kept");
    assert_eq!(rows[0].object_type, "person");
    assert_eq!(rows[0].confidence, old_person.confidence);
    assert_eq!(rows[3], new_person);
}

#[tokio::test]
async fn postgres_pictures_of_people_expire() {
    pictures_expire(Store::open(&fresh_pg().await, 2).await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_pictures_of_people_expire() {
    pictures_expire(Store::open(&fresh_sqlite(), 1).await.unwrap()).await;
}
