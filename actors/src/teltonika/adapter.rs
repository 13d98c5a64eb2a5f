//! The Teltonika adapter's translation: AVL records, named by the device's IO profile,
//! become entity readings. Nothing above this module sees a codec type.

use std::fmt::Write;

use super::codec::{AvlRecord, GpsElement, IoValue};
use super::io_profile::IoProfile;
use crate::entity::{Fix, Reading};

/// One reading per record, in the order received.
pub fn readings(records: Vec<AvlRecord>, profile: &IoProfile) -> Vec<Reading> {
    records.into_iter().map(|r| reading(&r, profile)).collect()
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

/// `{"<id>":value,…}`: every IO element as sent, variable-length ones as hex; written
/// straight into one string.
fn raw_json(r: &AvlRecord) -> String {
    let mut out = String::with_capacity(2 + r.io.len() * 16);
    out.push('{');
    for (i, e) in r.io.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\":", e.id);
        match &e.value {
            IoValue::Bytes(b) => {
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
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::super::codec::{IoElement, Priority};
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
        let r = &readings(vec![rec], &profile)[0];
        assert_eq!(r.at_ms, 1_764_000_000_000);
        let f = r.fix.unwrap();
        assert!(f.valid && (f.lat - 44.7722).abs() < 1e-9 && f.speed_kmh == 31);
        assert_eq!(r.facts.get(&Io::Ignition), Some(&Value::Bool(true)));
        assert_eq!(r.facts.len(), 1, "unknown ids stay raw only");
        let raw: serde_json::Value = serde_json::from_str(&r.raw).unwrap();
        assert_eq!(raw, serde_json::json!({"239": 1, "9999": 5, "385": "AB01"}));
    }
}
