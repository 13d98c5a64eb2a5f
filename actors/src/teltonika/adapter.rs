//! The Teltonika adapter's translation: AVL records, named by the device's IO profile,
//! become entity readings. Nothing above this module sees a codec type.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::codec::{AvlRecord, GpsElement};
use super::io_profile::IoProfile;
use crate::entity::{ClockBounds, Fix, IngestReadings, Quarantined, Reading, TIME_OUT_OF_RANGE};
use crate::metrics::{TELTONIKA_FIXES_DROPPED_TOTAL, TELTONIKA_RECORDS_REJECTED_TOTAL};

/// A frame's records as its entity takes them: a record dated outside `clock` (before
/// 2000, or too far ahead of `now`) is quarantined as received with why, and acknowledged
/// with the rest; a fix outside the globe is dropped from its record, the rest kept. Both
/// counted.
pub fn intake(
    records: Vec<AvlRecord>,
    profile: &IoProfile,
    clock: ClockBounds,
    now: DateTime<Utc>,
) -> IngestReadings {
    let mut msg = IngestReadings::new(Vec::with_capacity(records.len()), now);
    for r in records {
        let at_ms = i64::try_from(r.timestamp_ms).unwrap_or(i64::MAX);
        if let Err(detail) = clock.check(at_ms, now) {
            metrics::counter!(TELTONIKA_RECORDS_REJECTED_TOTAL, "reason" => TIME_OUT_OF_RANGE)
                .increment(1);
            msg.quarantined.push(Quarantined {
                reason: TIME_OUT_OF_RANGE,
                detail,
                payload: serde_json::to_string(&r).unwrap_or_default(),
            });
            continue;
        }
        let mut reading = reading(&r, profile);
        if !on_the_globe(&r.gps) {
            metrics::counter!(TELTONIKA_FIXES_DROPPED_TOTAL, "reason" => "position_out_of_range")
                .increment(1);
            reading.fix = None;
        }
        msg.readings.push(reading);
    }
    msg
}

/// |lat| ≤ 90° and |lon| ≤ 180°.
fn on_the_globe(g: &GpsElement) -> bool {
    (-900_000_000..=900_000_000).contains(&g.latitude)
        && (-1_800_000_000..=1_800_000_000).contains(&g.longitude)
}

fn reading(r: &AvlRecord, profile: &IoProfile) -> Reading {
    Reading {
        at_ms: i64::try_from(r.timestamp_ms).unwrap_or(i64::MAX),
        fix: Some(fix(&r.gps)),
        facts: profile.named(&r.io),
        raw: raw_json(r),
        sequence: None,
        observations: Vec::new(),
    }
}

fn fix(g: &GpsElement) -> Fix {
    Fix {
        lat: g.latitude_deg(),
        lon: g.longitude_deg(),
        altitude: g.altitude,
        heading: g.angle,
        satellites: g.satellites,
        speed_kmh: g.speed,
        valid: g.valid(),
    }
}

/// `{"<id>":value,…}`: every IO element as sent, 16-byte and variable-length ones as hex; written
/// straight into one string.
fn raw_json(r: &AvlRecord) -> String {
    let mut out = String::with_capacity(2 + r.io.len() * 16);
    out.push('{');
    for (i, e) in r.io.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\":", e.id);
        match e.value.raw_bytes() {
            Some(b) => {
                out.push('"');
                for byte in b {
                    let _ = write!(out, "{byte:02X}");
                }
                out.push('"');
            }
            None => {
                let _ = write!(out, "{}", e.value.as_u64().unwrap_or_default());
            }
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::super::codec::{IoElement, IoValue, Priority};
    use super::super::io_profile::{IoElementDef, IoKind};
    use super::*;
    use crate::entity::{Io, Value};

    #[test]
    fn records_become_readings_with_fix_facts_and_raw_io() {
        let profile = IoProfile::new(
            "t",
            &[IoElementDef {
                id: 239,
                name: "ignition".into(),
                kind: IoKind::Bool,
                scale: 1.0,
                offset: 0.0,
                unit: None,
            }],
        )
        .unwrap();
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
                IoElement {
                    id: 385,
                    value: IoValue::Bytes(vec![0xAB, 0x01]),
                },
            ],
        };
        let r = &reading(&rec, &profile);
        assert_eq!(r.at_ms, 1_764_000_000_000);
        let f = r.fix.unwrap();
        assert!(f.valid && (f.lat - 44.7722).abs() < 1e-9 && f.speed_kmh == 31);
        assert_eq!(r.facts.get(&Io::Ignition), Some(&Value::Bool(true)));
        assert_eq!(r.facts.len(), 1, "unknown ids stay raw only");
        let raw: serde_json::Value = serde_json::from_str(&r.raw).unwrap();
        assert_eq!(raw, serde_json::json!({"239": 1, "9999": 5, "385": "AB01"}));
    }

    fn record(timestamp_ms: u64, latitude: i32, longitude: i32) -> AvlRecord {
        AvlRecord {
            timestamp_ms,
            priority: Priority::Low,
            gps: GpsElement {
                latitude,
                longitude,
                satellites: 7,
                ..GpsElement::default()
            },
            event_io_id: 0,
            generation_type: None,
            io: vec![IoElement {
                id: 239,
                value: IoValue::U8(1),
            }],
        }
    }

    #[test]
    fn records_out_of_the_clock_are_quarantined_and_fixes_off_the_globe_dropped() {
        let profile = IoProfile::new("t", &[]).unwrap();
        let now = crate::entity::device_time(1_800_000_000_000);
        let ok = 1_800_000_000_000 - 5_000;
        let msg = intake(
            vec![
                record(ok, 447_000_000, 171_000_000),
                record(u64::MAX, 447_000_000, 171_000_000),
                record(7_258_118_400_000, 447_000_000, 171_000_000), // year 2200
                record(1_000, 447_000_000, 171_000_000),             // 1970
                record(ok + 1_000, 950_000_000, 171_000_000),        // lat 95°
                record(ok + 2_000, 447_000_000, -1_900_000_000),     // lon -190°
            ],
            &profile,
            ClockBounds::default(),
            now,
        );
        assert_eq!(msg.readings.len(), 3);
        assert_eq!(msg.quarantined.len(), 3);
        assert!(msg
            .quarantined
            .iter()
            .all(|q| q.reason == TIME_OUT_OF_RANGE));
        let kept: serde_json::Value = serde_json::from_str(&msg.quarantined[0].payload).unwrap();
        assert_eq!(kept["timestamp_ms"], u64::MAX, "kept as received: {kept}");
        assert_eq!(kept["io"][0]["id"], 239);
        assert!(msg.readings[0].fix.is_some());
        assert_eq!(msg.readings[1].fix, None, "latitude 95° dropped");
        assert_eq!(msg.readings[2].fix, None, "longitude -190° dropped");
        assert_eq!(
            msg.readings[1].raw, r#"{"239":1}"#,
            "the rest of the record stays"
        );
    }
}
