//! Pure vehicle logic: device-time ordering, the live state, and the rows a reading is
//! stored as.

use chrono::{DateTime, Utc};
use serde::Serialize;

use urbanstream_schema::models::{CanRow, TelemetryRow};
use urbanstream_schema::DeviceId;

#[cfg(test)]
use crate::entity::device_time;
use crate::entity::{Facts, Fix, Io, Reading, Value};
pub use crate::geo::haversine_m;

/// A reading and whether it is late (not newer than what the vehicle already had).
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered {
    pub reading: Reading,
    pub late: bool,
}

/// Puts a frame's readings in device-time order and flags those not newer than `latest`
/// (a device emptying its buffer after an outage, or a retransmit). Returns the new latest.
pub fn order_readings(
    latest: Option<i64>,
    mut readings: Vec<Reading>,
) -> (Vec<Ordered>, Option<i64>) {
    readings.sort_by_key(|r| r.at_ms);
    let mut newest = latest;
    let ordered = readings
        .into_iter()
        .map(|reading| {
            let late = newest.is_some_and(|n| reading.at_ms <= n);
            if !late {
                newest = Some(reading.at_ms);
            }
            Ordered { reading, late }
        })
        .collect();
    (ordered, newest)
}

/// The latest known state of a vehicle. Only live (non-late) readings move it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveState {
    pub device_time: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// Last position with a valid fix.
    pub position: Option<Position>,
    /// Whether the latest reading had a fix.
    pub fix: bool,
    pub speed_kmh: u16,
    /// Latest value of every fact seen so far.
    pub values: Facts,
    pub motion: crate::entity::Motion,
    /// Time with the ignition on, from the readings seen since start.
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
    fn from_fix(f: &Fix, at: DateTime<Utc>) -> Self {
        Self {
            lat: f.lat,
            lon: f.lon,
            altitude: f.altitude,
            heading: f.heading,
            satellites: f.satellites,
            device_time: at,
        }
    }
}

/// Moves the live state forward with a live reading. Returns the distance in metres from
/// the previous fix (0 without two fixes).
pub fn apply_live(
    live: &mut Option<LiveState>,
    reading: &Reading,
    received_at: DateTime<Utc>,
) -> f64 {
    let at = reading.at();
    let state = live.get_or_insert_with(|| LiveState {
        device_time: at,
        received_at,
        position: None,
        fix: false,
        speed_kmh: 0,
        values: Facts::default(),
        motion: crate::entity::Motion::Offline,
        engine_hours_h: 0.0,
    });
    state.device_time = at;
    state.received_at = received_at;
    let fix = reading.fix.filter(|f| f.valid);
    state.fix = fix.is_some();
    state.speed_kmh = reading.fix.map_or(0, |f| f.speed_kmh);
    let mut distance = 0.0;
    if let Some(f) = fix {
        let next = Position::from_fix(&f, at);
        if let Some(prev) = state.position {
            distance = haversine_m((prev.lat, prev.lon), (next.lat, next.lon));
        }
        state.position = Some(next);
    }
    state.values.merge(&reading.facts);
    // A fleet's trackers each keep this for good: no room past what is held.
    state.values.0.shrink_to_fit();
    distance
}

/// `{"raw":{…},"named":{…}}`: the wire's values and the facts, written into one string.
fn io_json(reading: &Reading) -> String {
    let mut out = String::with_capacity(24 + reading.raw.len() + reading.facts.len() * 32);
    out.push_str("{\"raw\":");
    out.push_str(if reading.raw.is_empty() {
        "{}"
    } else {
        &reading.raw
    });
    out.push_str(",\"named\":");
    match serde_json::to_string(&reading.facts) {
        Ok(named) => out.push_str(&named),
        Err(_) => out.push_str("{}"),
    }
    out.push('}');
    out
}

/// The CAN bus values of a reading, when it carries any.
pub fn to_can_row(device_id: DeviceId, reading: &Reading) -> Option<CanRow> {
    let facts = &reading.facts;
    let f = |io: Io| facts.f64(&io);
    let b = |io: Io| facts.bool(&io);
    let row = CanRow {
        device_id: device_id.0,
        device_time_ms: reading.at_ms,
        engine_rpm: f(Io::EngineRpm).map(|v| v as i32),
        engine_hours_h: f(Io::EngineHoursH),
        coolant_temp_c: f(Io::EngineTempC),
        engine_load_pct: f(Io::EngineLoadPct),
        fuel_level_l: f(Io::FuelLevelL),
        fuel_level_pct: f(Io::FuelLevelPct),
        fuel_used_l: f(Io::FuelConsumedL),
        fuel_rate_lph: f(Io::FuelRateLph),
        vehicle_speed_kmh: f(Io::CanSpeedKmh),
        odometer_m: f(Io::TotalMileageM).or_else(|| f(Io::CanOdometerKm).map(|km| km * 1000.0)),
        accelerator_pct: f(Io::AcceleratorPedalPct),
        dtc_codes: facts.get(&Io::Dtc).and_then(|v| match v {
            Value::Codes(c) => Some(c.join(",")),
            Value::Text(t) => Some(t.clone()),
            _ => None,
        }),
        doors: f(Io::DoorStatus).map(|v| v as i32),
        brake_active: b(Io::BrakeActive),
        cruise_control: b(Io::CruiseControl),
        check_engine: b(Io::CheckEngine),
        door1_open: b(Io::Door1Open),
        door2_open: b(Io::Door2Open),
        door3_open: b(Io::Door3Open),
    };
    let empty = CanRow {
        device_id: device_id.0,
        device_time_ms: row.device_time_ms,
        ..CanRow::default()
    };
    (row != empty).then_some(row)
}

/// The stored form of a reading: fixed columns for what every query needs, and the whole
/// IO (raw by id, and the facts) as JSON.
pub fn to_row(
    device_id: DeviceId,
    reading: &Reading,
    late: bool,
    distance_m: f64,
    received_at: DateTime<Utc>,
) -> TelemetryRow {
    let io = io_json(reading);
    let fix = reading.fix.unwrap_or(Fix {
        lat: 0.0,
        lon: 0.0,
        altitude: 0,
        heading: 0,
        satellites: 0,
        speed_kmh: 0,
        valid: false,
    });
    let facts = &reading.facts;
    TelemetryRow {
        device_id: device_id.0,
        device_time_ms: reading.at_ms,
        server_time_ms: received_at.timestamp_millis(),
        lat: fix.lat,
        lon: fix.lon,
        altitude: i32::from(fix.altitude),
        speed_kmh: i32::from(fix.speed_kmh),
        heading: i32::from(fix.heading),
        satellites: i32::from(fix.satellites),
        fix: fix.valid,
        hdop: facts.f64(&Io::Hdop),
        ignition: facts.bool(&Io::Ignition),
        movement: facts.bool(&Io::Movement),
        external_voltage_v: facts.f64(&Io::ExternalVoltageV),
        battery_voltage_v: facts.f64(&Io::BatteryVoltageV),
        gsm_signal: facts.f64(&Io::GsmSignal).map(|v| v as i32),
        distance_m,
        late,
        io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at_ms: i64, lat: f64, sats: u8) -> Reading {
        Reading {
            at_ms,
            fix: Some(Fix {
                lat,
                lon: 17.19,
                altitude: 0,
                heading: 0,
                satellites: sats,
                speed_kmh: 0,
                valid: sats >= 3,
            }),
            facts: Facts::default(),
            raw: String::new(),
            sequence: None,
            observations: Vec::new(),
        }
    }

    #[test]
    fn orders_by_device_time_and_flags_late() {
        let (o, latest) = order_readings(
            Some(100),
            vec![
                reading(300, 0.0, 5),
                reading(50, 0.0, 5),
                reading(200, 0.0, 5),
                reading(100, 0.0, 5),
            ],
        );
        let got: Vec<(i64, bool)> = o.iter().map(|x| (x.reading.at_ms, x.late)).collect();
        assert_eq!(
            got,
            vec![(50, true), (100, true), (200, false), (300, false)]
        );
        assert_eq!(latest, Some(300));
        let (o, latest) = order_readings(None, vec![reading(5, 0.0, 5), reading(5, 0.0, 5)]);
        assert_eq!(
            o.iter().map(|x| x.late).collect::<Vec<_>>(),
            vec![false, true]
        );
        assert_eq!(latest, Some(5));
        let (o, latest) = order_readings(Some(9), vec![]);
        assert!(o.is_empty());
        assert_eq!(latest, Some(9));
    }

    #[test]
    fn live_state_keeps_last_fix_and_merges_values() {
        let mut live = None;
        let now = Utc::now();
        let with = |mut r: Reading, facts: Vec<(Io, Value)>| {
            r.facts = Facts(facts);
            r
        };
        let ignition = || vec![(Io::Ignition, Value::Bool(true))];
        assert_eq!(
            apply_live(&mut live, &with(reading(1_000, 44.77, 7), ignition()), now),
            0.0
        );
        let d = apply_live(&mut live, &with(reading(1_500, 44.771, 7), ignition()), now);
        assert!(
            (d - 111.2).abs() < 0.5,
            "0.001 degree of latitude is about 111 m: {d}"
        );
        apply_live(
            &mut live,
            &with(
                reading(2_000, 0.0, 0),
                vec![(Io::EngineRpm, Value::Integer(900))],
            ),
            now,
        );
        let s = live.unwrap();
        assert!(!s.fix);
        assert_eq!(s.device_time, device_time(2_000));
        let p = s.position.unwrap();
        assert!((p.lat - 44.771).abs() < 1e-9);
        assert_eq!(p.device_time, device_time(1_500));
        assert_eq!(s.values.len(), 2);
        assert_eq!(s.values.get(&Io::EngineRpm), Some(&Value::Integer(900)));
    }

    #[test]
    fn rows_carry_columns_and_io_json() {
        let r = Reading {
            at_ms: 1_764_000_000_000,
            fix: Some(Fix {
                lat: 44.7722,
                lon: 17.191,
                altitude: 163,
                heading: 270,
                satellites: 9,
                speed_kmh: 31,
                valid: true,
            }),
            facts: Facts(vec![
                (Io::Ignition, Value::Bool(true)),
                (Io::ExternalVoltageV, Value::Number(27.6)),
            ]),
            raw: r#"{"239":1,"9999":5}"#.into(),
            sequence: None,
            observations: Vec::new(),
        };
        let at = device_time(1_764_000_000_100);
        let row = to_row(DeviceId(7), &r, false, 12.5, at);
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

    #[test]
    fn can_rows_only_for_readings_with_can_values() {
        let mut r = reading(5, 0.0, 0);
        r.facts = Facts(vec![(Io::Ignition, Value::Bool(true))]);
        assert_eq!(to_can_row(DeviceId(1), &r), None);
        r.facts = Facts(vec![
            (Io::EngineRpm, Value::Integer(1450)),
            (Io::FuelLevelL, Value::Number(123.4)),
            (Io::Dtc, Value::Codes(vec!["P0420".into(), "P0171".into()])),
            (Io::DoorStatus, Value::Integer(3)),
            (Io::CanOdometerKm, Value::Number(12.5)),
            (Io::Door2Open, Value::Bool(true)),
            (Io::BrakeActive, Value::Bool(false)),
        ]);
        let row = to_can_row(DeviceId(1), &r).unwrap();
        assert_eq!(row.engine_rpm, Some(1450));
        assert_eq!(row.fuel_level_l, Some(123.4));
        assert_eq!(row.dtc_codes.as_deref(), Some("P0420,P0171"));
        assert_eq!(row.doors, Some(3));
        assert_eq!(row.odometer_m, Some(12_500.0));
        assert_eq!((row.door1_open, row.door2_open), (None, Some(true)));
        assert_eq!(row.brake_active, Some(false));
        assert_eq!((row.device_id, row.device_time_ms), (1, 5));
    }
}
