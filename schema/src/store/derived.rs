//! Rows the vehicle actors' events imply: a `trip_ended` event is a trip, `stop_ended` a
//! stay, `stop_arrived` / `stop_departed` an arrival at a route's stop. They are written in
//! the transaction of the events themselves, so they are stored (and acknowledged) with the
//! frame that produced them, and a retransmitted frame adds nothing twice.

use serde_json::Value;

use crate::models::{ArrivalRow, NewEvent, TripRow, VehicleStopRow};

/// A departure closes its arrival row.
#[derive(Debug, Clone, PartialEq)]
pub struct Departure {
    pub device_id: i64,
    pub stop_id: i64,
    pub arrived_ms: i64,
    pub departed_ms: i64,
    pub dwell_s: f64,
}

#[derive(Debug, Default, PartialEq)]
pub struct Derived {
    pub trips: Vec<TripRow>,
    pub stays: Vec<VehicleStopRow>,
    pub arrivals: Vec<ArrivalRow>,
    pub departures: Vec<Departure>,
}

impl Derived {
    pub fn is_empty(&self) -> bool {
        self.trips.is_empty()
            && self.stays.is_empty()
            && self.arrivals.is_empty()
            && self.departures.is_empty()
    }
}

fn ms(v: &Value) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.timestamp_millis())
}

pub fn derive(events: &[NewEvent]) -> Derived {
    let mut d = Derived::default();
    for e in events {
        if !matches!(
            e.kind.as_str(),
            "trip_ended" | "stop_ended" | "stop_arrived" | "stop_departed"
        ) {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(&e.data) else {
            continue;
        };
        let f = |k: &str| v[k].as_f64();
        let i = |k: &str| v[k].as_i64();
        match e.kind.as_str() {
            "trip_ended" => {
                let Some(start_ms) = ms(&v["started_at"]) else {
                    continue;
                };
                d.trips.push(TripRow {
                    device_id: e.device_id,
                    vehicle_id: i("vehicle_id"),
                    start_ms,
                    end_ms: e.time_ms,
                    distance_m: f("distance_m").unwrap_or(0.0),
                    duration_s: i("duration_s").unwrap_or(0),
                    max_speed_kmh: f("max_speed_kmh").unwrap_or(0.0),
                    idle_s: f("idle_s").unwrap_or(0.0),
                    fuel_used_l: f("fuel_used_l"),
                    start_lat: f("start_lat"),
                    start_lon: f("start_lon"),
                    end_lat: f("lat"),
                    end_lon: f("lon"),
                });
            }
            "stop_ended" => {
                let Some(start_ms) = ms(&v["started_at"]) else {
                    continue;
                };
                d.stays.push(VehicleStopRow {
                    device_id: e.device_id,
                    vehicle_id: i("vehicle_id"),
                    start_ms,
                    end_ms: e.time_ms,
                    duration_s: i("duration_s").unwrap_or(0),
                    lat: f("lat"),
                    lon: f("lon"),
                });
            }
            "stop_arrived" => {
                let (Some(route), Some(stop), Some(seq)) = (i("route"), i("stop"), i("seq")) else {
                    continue;
                };
                d.arrivals.push(ArrivalRow {
                    device_id: e.device_id,
                    vehicle_id: i("vehicle_id"),
                    route_id: route,
                    stop_id: stop,
                    seq: i32::try_from(seq).unwrap_or(i32::MAX),
                    arrived_ms: e.time_ms,
                    departed_ms: None,
                    dwell_s: None,
                });
            }
            _ => {
                let (Some(stop), Some(arrived_ms)) = (i("stop"), i("arrived_ms")) else {
                    continue;
                };
                d.departures.push(Departure {
                    device_id: e.device_id,
                    stop_id: stop,
                    arrived_ms,
                    departed_ms: e.time_ms,
                    dwell_s: f("dwell_s").unwrap_or(0.0),
                });
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, time_ms: i64, data: Value) -> NewEvent {
        NewEvent {
            device_id: 7,
            time_ms,
            kind: kind.into(),
            data: data.to_string(),
            subject: String::new(),
        }
    }

    #[test]
    fn events_become_trips_stays_and_arrivals() {
        let d = derive(&[
            event(
                "trip_ended",
                1_764_000_600_000,
                serde_json::json!({"kind": "trip_ended", "at": "2025-11-24T16:10:00Z",
                "started_at": "2025-11-24T16:00:00Z", "distance_m": 4200.0, "duration_s": 600, "lat": 44.8, "lon": 17.2,
                "start_lat": 44.7, "start_lon": 17.1, "max_speed_kmh": 61.0, "idle_s": 45.0, "fuel_used_l": null, "vehicle_id": 12}),
            ),
            event(
                "stop_ended",
                1_764_000_000_000,
                serde_json::json!({"started_at": "2025-11-24T15:00:00Z", "duration_s": 3600, "lat": 44.7, "lon": 17.1}),
            ),
            event(
                "stop_arrived",
                5,
                serde_json::json!({"route": 3, "stop": 11, "seq": 2}),
            ),
            event(
                "stop_departed",
                9,
                serde_json::json!({"route": 3, "stop": 11, "seq": 2, "arrived_ms": 5, "dwell_s": 0.004}),
            ),
            event("motion_changed", 1, serde_json::json!({})),
            event(
                "trip_ended",
                2,
                serde_json::json!({"started_at": "not a time"}),
            ),
        ]);
        assert_eq!(d.trips.len(), 1);
        let t = &d.trips[0];
        assert_eq!(
            (t.start_ms, t.end_ms, t.duration_s),
            (1_764_000_000_000, 1_764_000_600_000, 600)
        );
        assert_eq!(
            (t.max_speed_kmh, t.idle_s, t.fuel_used_l),
            (61.0, 45.0, None)
        );
        assert_eq!((t.start_lat, t.end_lon), (Some(44.7), Some(17.2)));
        assert_eq!((t.vehicle_id, d.stays[0].vehicle_id), (Some(12), None));
        assert_eq!(d.stays[0].start_ms, 1_763_996_400_000);
        assert_eq!(
            (
                d.arrivals[0].route_id,
                d.arrivals[0].stop_id,
                d.arrivals[0].seq
            ),
            (3, 11, 2)
        );
        assert_eq!(
            d.departures[0],
            Departure {
                device_id: 7,
                stop_id: 11,
                arrived_ms: 5,
                departed_ms: 9,
                dwell_s: 0.004
            }
        );
    }
}
