//! Pure vehicle logic: device-time ordering and the live state.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::teltonika::codec::{AvlRecord, GpsElement};
use crate::teltonika::io_profile::{NamedValue, NamedValues};

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
    pub values: BTreeMap<Arc<str>, NamedValue>,
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

/// Moves the live state forward with a live record.
pub fn apply_live(
    live: &mut Option<LiveState>,
    record: &AvlRecord,
    named: &NamedValues,
    received_at: DateTime<Utc>,
) {
    let at = device_time(record.timestamp_ms);
    let state = live.get_or_insert_with(|| LiveState {
        device_time: at,
        received_at,
        position: None,
        fix: false,
        speed_kmh: 0,
        values: BTreeMap::new(),
    });
    state.device_time = at;
    state.received_at = received_at;
    state.fix = record.gps.valid();
    state.speed_kmh = record.gps.speed;
    if state.fix {
        state.position = Some(Position::from_gps(&record.gps, at));
    }
    for (k, v) in named {
        state.values.insert(k.clone(), v.clone());
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
        apply_live(&mut live, &rec(1_000, 447_700_000, 7), &named, now);
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
        assert!((p.lat - 44.77).abs() < 1e-9);
        assert_eq!(p.device_time, device_time(1_000));
        assert_eq!(s.values.len(), 2);
    }
}
