//! Pure vehicle logic: device-time ordering and the live state.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use urbanstream_schema::models::{CanRow, TelemetryRow};

use crate::teltonika::codec::{AvlRecord, GpsElement};
use crate::teltonika::io_profile::{serialize_named, NamedValue, NamedValues};

const EARTH_RADIUS_M: f64 = 6_371_000.0;

/// Great-circle distance in metres between two (lat, lon) points in degrees.
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// A record and whether it is late (not newer than what the vehicle already had).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ordered {
    pub record: AvlRecord,
    pub late: bool,
}

/// Puts a frame's records in device-time order and flags those not newer than `latest`
/// (a device emptying its buffer after an outage, or a retransmit). Returns the new latest.
pub fn order_records(
    latest: Option<u64>,
    mut records: Vec<AvlRecord>,
) -> (Vec<Ordered>, Option<u64>) {
    records.sort_by_key(|r| r.timestamp_ms);
    let mut newest = latest;
    let ordered = records
        .into_iter()
        .map(|record| {
            let late = newest.is_some_and(|n| record.timestamp_ms <= n);
            if !late {
                newest = Some(record.timestamp_ms);
            }
            Ordered { record, late }
        })
        .collect();
    (ordered, newest)
}

/// Milliseconds since the epoch to a UTC time (clamped to the representable range).
pub fn device_time(ms: u64) -> DateTime<Utc> {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The latest known state of a vehicle. Only live (non-late) records move it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveState {
    pub device_time: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// Last position with a valid fix.
    pub position: Option<Position>,
    /// Whether the latest record had a fix.
    pub fix: bool,
    pub speed_kmh: u16,
    /// Latest value of every named IO field seen so far.
    #[serde(serialize_with = "crate::teltonika::io_profile::serialize_named")]
    pub values: NamedValues,
    pub motion: super::motion::Motion,
    /// Time with the ignition on, from the records seen since start.
    pub engine_hours_h: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
    pub altitude: i16,
    pub heading: u16,
    pub satellites: u8,
    pub device_time: DateTime<Utc>,
}

impl Position {
    fn from_gps(g: &GpsElement, at: DateTime<Utc>) -> Self {
        Self {
            lat: g.latitude_deg(),
            lon: g.longitude_deg(),
            altitude: g.altitude,
            heading: g.angle,
            satellites: g.satellites,
            device_time: at,
        }
    }
}

/// Moves the live state forward with a live record. Returns the distance in metres from the
/// previous fix (0 without two fixes).
pub fn apply_live(
    live: &mut Option<LiveState>,
    record: &AvlRecord,
    named: &NamedValues,
    received_at: DateTime<Utc>,
) -> f64 {
    let at = device_time(record.timestamp_ms);
    let state = live.get_or_insert_with(|| LiveState {
        device_time: at,
        received_at,
        position: None,
        fix: false,
        speed_kmh: 0,
        values: Vec::new(),
        motion: super::motion::Motion::Offline,
        engine_hours_h: 0.0,
    });
    state.device_time = at;
    state.received_at = received_at;
    state.fix = record.gps.valid();
    state.speed_kmh = record.gps.speed;
    let mut distance = 0.0;
    if state.fix {
        let next = Position::from_gps(&record.gps, at);
        if let Some(prev) = state.position {
            distance = haversine_m((prev.lat, prev.lon), (next.lat, next.lon));
        }
        state.position = Some(next);
    }
    for (k, v) in named {
        merge_value(&mut state.values, k, v);
    }
    distance
}

/// Sets `key` in a small list of values. Keys come from one profile, so the same `Arc` is
/// usually found by pointer; a linear scan of a score of entries beats a tree here.
fn merge_value(values: &mut NamedValues, key: &Arc<str>, value: &NamedValue) {
    match values
        .iter_mut()
        .find(|(k, _)| Arc::ptr_eq(k, key) || **k == **key)
    {
        Some((_, v)) => *v = value.clone(),
        None => values.push((key.clone(), value.clone())),
    }
}

/// The value of a named field.
pub fn named_value<'a>(values: &'a NamedValues, key: &str) -> Option<&'a NamedValue> {
    values.iter().find(|(k, _)| &**k == key).map(|(_, v)| v)
}

fn named_f64(named: &NamedValues, key: &str) -> Option<f64> {
    named
        .iter()
        .find(|(k, _)| &**k == key)
        .and_then(|(_, v)| v.as_f64())
}

fn named_bool(named: &NamedValues, key: &str) -> Option<bool> {
    named
        .iter()
        .find(|(k, _)| &**k == key)
        .and_then(|(_, v)| v.as_bool())
}

/// `{"raw":{"<id>":value,…},"named":{…}}`, written straight into one string.
fn io_json(record: &AvlRecord, named: &NamedValues) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(32 + record.io.len() * 24 + named.len() * 32);
    out.push_str("{\"raw\":{");
    for (i, e) in record.io.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\":", e.id);
        match &e.value {
            crate::teltonika::codec::IoValue::Bytes(b) => {
                out.push('"');
                for byte in b {
                    let _ = write!(out, "{byte:02X}");
                }
                out.push('"');
            }
            other => {
                let _ = write!(out, "{}", other.as_u64().unwrap_or_default());
            }
        }
    }
    out.push_str("},\"named\":");
    let mut buf = Vec::with_capacity(named.len() * 32);
    let mut ser = serde_json::Serializer::new(&mut buf);
    if serialize_named(named, &mut ser).is_ok() {
        out.push_str(&String::from_utf8_lossy(&buf));
    } else {
        out.push_str("{}");
    }
    out.push('}');
    out
}

/// The CAN bus values of a record, when it carries any (by the profile's canonical names).
pub fn to_can_row(device_id: i64, record: &AvlRecord, named: &NamedValues) -> Option<CanRow> {
    let f = |key: &str| named_f64(named, key);
    let row = CanRow {
        device_id,
        device_time_ms: i64::try_from(record.timestamp_ms).unwrap_or(i64::MAX),
        engine_rpm: f("engine_rpm").map(|v| v as i32),
        engine_hours_h: f("engine_hours_h"),
        coolant_temp_c: f("engine_temp_c"),
        engine_load_pct: f("engine_load_pct"),
        fuel_level_l: f("fuel_level_l"),
        fuel_level_pct: f("fuel_level_pct"),
        fuel_used_l: f("fuel_consumed_l"),
        fuel_rate_lph: f("fuel_rate_lph"),
        vehicle_speed_kmh: f("can_speed_kmh"),
        odometer_m: f("total_mileage_m"),
        accelerator_pct: f("accelerator_pedal_pct"),
        dtc_codes: named
            .iter()
            .find(|(k, _)| &**k == "dtc")
            .and_then(|(_, v)| match v {
                NamedValue::Codes(c) => Some(c.join(",")),
                NamedValue::Text(t) => Some(t.clone()),
                _ => None,
            }),
        doors: f("door_status").map(|v| v as i32),
    };
    let empty = CanRow {
        device_id,
        device_time_ms: row.device_time_ms,
        ..CanRow::default()
    };
    (row != empty).then_some(row)
}

/// The stored form of a record: fixed columns for what every query needs, and the whole IO
/// (raw by id, and named by profile) as JSON.
pub fn to_row(
    device_id: i64,
    record: &AvlRecord,
    named: &NamedValues,
    late: bool,
    distance_m: f64,
    received_at: DateTime<Utc>,
) -> TelemetryRow {
    let io = io_json(record, named);
    let g = &record.gps;
    TelemetryRow {
        device_id,
        device_time_ms: i64::try_from(record.timestamp_ms).unwrap_or(i64::MAX),
        server_time_ms: received_at.timestamp_millis(),
        lat: g.latitude_deg(),
        lon: g.longitude_deg(),
        altitude: i32::from(g.altitude),
        speed_kmh: i32::from(g.speed),
        heading: i32::from(g.angle),
        satellites: i32::from(g.satellites),
        fix: g.valid(),
        hdop: named_f64(named, "hdop"),
        ignition: named_bool(named, "ignition"),
        movement: named_bool(named, "movement"),
        external_voltage_v: named_f64(named, "external_voltage_v"),
        battery_voltage_v: named_f64(named, "battery_voltage_v"),
        gsm_signal: named_f64(named, "gsm_signal").map(|v| v as i32),
        distance_m,
        late,
        io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::teltonika::codec::Priority;

    fn rec(ts: u64, lat: i32, sats: u8) -> AvlRecord {
        AvlRecord {
            timestamp_ms: ts,
            priority: Priority::Low,
            gps: GpsElement {
                latitude: lat,
                longitude: 171_900_000,
                satellites: sats,
                ..Default::default()
            },
            event_io_id: 0,
            generation_type: None,
            io: vec![],
        }
    }

    #[test]
    fn orders_by_device_time_and_flags_late() {
        let (o, latest) = order_records(
            Some(100),
            vec![
                rec(300, 0, 5),
                rec(50, 0, 5),
                rec(200, 0, 5),
                rec(100, 0, 5),
            ],
        );
        let got: Vec<(u64, bool)> = o.iter().map(|x| (x.record.timestamp_ms, x.late)).collect();
        assert_eq!(
            got,
            vec![(50, true), (100, true), (200, false), (300, false)]
        );
        assert_eq!(latest, Some(300));
        let (o, latest) = order_records(None, vec![rec(5, 0, 5), rec(5, 0, 5)]);
        assert_eq!(
            o.iter().map(|x| x.late).collect::<Vec<_>>(),
            vec![false, true]
        );
        assert_eq!(latest, Some(5));
        let (o, latest) = order_records(Some(9), vec![]);
        assert!(o.is_empty());
        assert_eq!(latest, Some(9));
    }

    #[test]
    fn live_state_keeps_last_fix_and_merges_values() {
        let mut live = None;
        let now = Utc::now();
        let named: NamedValues = vec![(Arc::from("ignition"), NamedValue::Bool(true))];
        assert_eq!(
            apply_live(&mut live, &rec(1_000, 447_700_000, 7), &named, now),
            0.0
        );
        let d = apply_live(&mut live, &rec(1_500, 447_710_000, 7), &named, now);
        assert!(
            (d - 111.2).abs() < 0.5,
            "0.001 degree of latitude is about 111 m: {d}"
        );
        apply_live(
            &mut live,
            &rec(2_000, 0, 0),
            &vec![(Arc::from("engine_rpm"), NamedValue::Integer(900))],
            now,
        );
        let s = live.unwrap();
        assert!(!s.fix);
        assert_eq!(s.device_time, device_time(2_000));
        let p = s.position.unwrap();
        assert!((p.lat - 44.771).abs() < 1e-9);
        assert_eq!(p.device_time, device_time(1_500));
        assert_eq!(s.values.len(), 2);
        assert_eq!(
            named_value(&s.values, "engine_rpm"),
            Some(&NamedValue::Integer(900))
        );
    }
}

#[cfg(test)]
mod row_tests {
    use super::*;
    use crate::teltonika::codec::{IoElement, IoValue, Priority};

    #[test]
    fn rows_carry_columns_and_io_json() {
        let rec = AvlRecord {
            timestamp_ms: 1_764_000_000_000,
            priority: Priority::High,
            gps: GpsElement {
                latitude: 447_722_000,
                longitude: 171_910_000,
                satellites: 9,
                speed: 31,
                angle: 270,
                altitude: 163,
            },
            event_io_id: 0,
            generation_type: None,
            io: vec![
                IoElement {
                    id: 239,
                    value: IoValue::U8(1),
                },
                IoElement {
                    id: 9999,
                    value: IoValue::U16(5),
                },
            ],
        };
        let named: NamedValues = vec![
            (Arc::from("ignition"), NamedValue::Bool(true)),
            (Arc::from("external_voltage_v"), NamedValue::Number(27.6)),
        ];
        let at = device_time(1_764_000_000_100);
        let row = to_row(7, &rec, &named, false, 12.5, at);
        assert_eq!(row.device_id, 7);
        assert_eq!(row.device_time_ms, 1_764_000_000_000);
        assert_eq!(row.server_time_ms, 1_764_000_000_100);
        assert_eq!((row.speed_kmh, row.heading, row.satellites), (31, 270, 9));
        assert!(row.fix);
        assert_eq!(row.ignition, Some(true));
        assert_eq!(row.external_voltage_v, Some(27.6));
        assert_eq!(row.hdop, None);
        let io: serde_json::Value = serde_json::from_str(&row.io).unwrap();
        assert_eq!(io["raw"]["9999"], 5);
        assert_eq!(io["named"]["ignition"], true);
    }
}

#[cfg(test)]
mod can_tests {
    use super::*;
    use crate::teltonika::codec::Priority;

    #[test]
    fn can_rows_only_for_records_with_can_values() {
        let rec = AvlRecord {
            timestamp_ms: 5,
            priority: Priority::Low,
            gps: GpsElement::default(),
            event_io_id: 0,
            generation_type: None,
            io: vec![],
        };
        let plain: NamedValues = vec![(Arc::from("ignition"), NamedValue::Bool(true))];
        assert_eq!(to_can_row(1, &rec, &plain), None);
        let can: NamedValues = vec![
            (Arc::from("engine_rpm"), NamedValue::Integer(1450)),
            (Arc::from("fuel_level_l"), NamedValue::Number(123.4)),
            (
                Arc::from("dtc"),
                NamedValue::Codes(vec!["P0420".into(), "P0171".into()]),
            ),
            (Arc::from("door_status"), NamedValue::Integer(3)),
        ];
        let row = to_can_row(1, &rec, &can).unwrap();
        assert_eq!(row.engine_rpm, Some(1450));
        assert_eq!(row.fuel_level_l, Some(123.4));
        assert_eq!(row.dtc_codes.as_deref(), Some("P0420,P0171"));
        assert_eq!(row.doors, Some(3));
        assert_eq!((row.device_id, row.device_time_ms), (1, 5));
    }
}
