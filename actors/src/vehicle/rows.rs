//! A vehicle's events as stored: each event as a row of the event log, and the rows it
//! implies (a trip, a stay, an arrival, a departure), built from the typed events, in the
//! batch of the frame that produced them.

use urbanstream_schema::models::{ArrivalRow, NewEvent, TripRow, VehicleStopRow};
use urbanstream_schema::store::{Batch, Departure};
use urbanstream_schema::{DeviceId, VehicleId};

use crate::entity::EntityEvent;

/// Adds `events` of device `device` (riding in `vehicle`) to `batch`.
pub fn add_events(
    batch: &mut Batch,
    device: DeviceId,
    vehicle: Option<VehicleId>,
    events: &[EntityEvent],
) {
    let (device_id, vehicle_id) = (device.0, vehicle.map(|v| v.0));
    for e in events {
        batch.events.push(NewEvent {
            device_id,
            time_ms: e.at().timestamp_millis(),
            kind: e.kind().to_owned(),
            data: event_data(e, vehicle),
            subject: e.subject(),
        });
        match e {
            EntityEvent::TripEnded {
                at,
                started_at,
                distance_m,
                duration_s,
                lat,
                lon,
                start_lat,
                start_lon,
                max_speed_kmh,
                idle_s,
                fuel_used_l,
            } => batch.trips.push(TripRow {
                device_id,
                vehicle_id,
                start_ms: started_at.timestamp_millis(),
                end_ms: at.timestamp_millis(),
                distance_m: *distance_m,
                duration_s: *duration_s,
                max_speed_kmh: *max_speed_kmh,
                idle_s: *idle_s,
                fuel_used_l: *fuel_used_l,
                start_lat: *start_lat,
                start_lon: *start_lon,
                end_lat: *lat,
                end_lon: *lon,
            }),
            EntityEvent::StopEnded {
                at,
                started_at,
                duration_s,
                lat,
                lon,
            } => batch.stays.push(VehicleStopRow {
                device_id,
                vehicle_id,
                start_ms: started_at.timestamp_millis(),
                end_ms: at.timestamp_millis(),
                duration_s: *duration_s,
                lat: *lat,
                lon: *lon,
            }),
            EntityEvent::StopArrived {
                at,
                route,
                stop,
                seq,
            } => batch.arrivals.push(ArrivalRow {
                device_id,
                vehicle_id,
                route_id: route.0,
                stop_id: stop.0,
                seq: i32::try_from(*seq).unwrap_or(i32::MAX),
                arrived_ms: at.timestamp_millis(),
                departed_ms: None,
                dwell_s: None,
            }),
            EntityEvent::StopDeparted {
                at,
                stop,
                arrived_ms,
                dwell_s,
                ..
            } => batch.departures.push(Departure {
                device_id,
                stop_id: stop.0,
                arrived_ms: *arrived_ms,
                departed_ms: at.timestamp_millis(),
                dwell_s: *dwell_s,
            }),
            _ => {}
        }
    }
}

/// An event as stored in the log: its JSON, with the vehicle the tracker rides in now.
fn event_data(e: &EntityEvent, vehicle: Option<VehicleId>) -> String {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if let (Some(id), Some(o)) = (vehicle, v.as_object_mut()) {
        o.insert("vehicle_id".into(), id.0.into());
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use urbanstream_schema::{RouteId, StopId};

    use super::*;
    use crate::entity::Motion;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn events_become_log_rows_trips_stays_and_arrivals() {
        let mut b = Batch::default();
        add_events(
            &mut b,
            DeviceId(7),
            Some(VehicleId(12)),
            &[
                EntityEvent::TripEnded {
                    at: t("2025-11-24T16:10:00Z"),
                    started_at: t("2025-11-24T16:00:00Z"),
                    distance_m: 4200.0,
                    duration_s: 600,
                    lat: Some(44.8),
                    lon: Some(17.2),
                    start_lat: Some(44.7),
                    start_lon: Some(17.1),
                    max_speed_kmh: 61.0,
                    idle_s: 45.0,
                    fuel_used_l: None,
                },
                EntityEvent::MotionChanged {
                    at: t("2025-11-24T16:10:00Z"),
                    from: Motion::Moving,
                    to: Motion::Parked,
                },
            ],
        );
        add_events(
            &mut b,
            DeviceId(7),
            None,
            &[
                EntityEvent::StopEnded {
                    at: t("2025-11-24T16:00:00Z"),
                    started_at: t("2025-11-24T15:00:00Z"),
                    duration_s: 3600,
                    lat: Some(44.7),
                    lon: Some(17.1),
                },
                EntityEvent::StopArrived {
                    at: DateTime::from_timestamp_millis(5).unwrap(),
                    route: RouteId(3),
                    stop: StopId(11),
                    seq: 2,
                },
                EntityEvent::StopDeparted {
                    at: DateTime::from_timestamp_millis(9).unwrap(),
                    route: RouteId(3),
                    stop: StopId(11),
                    seq: 2,
                    arrived_ms: 5,
                    dwell_s: 0.004,
                },
            ],
        );
        assert_eq!(b.events.len(), 5, "every event is logged");
        let logged: serde_json::Value = serde_json::from_str(&b.events[0].data).unwrap();
        assert_eq!(logged["kind"], "trip_ended");
        assert_eq!(logged["vehicle_id"], 12);
        assert_eq!(b.events[3].subject, "11");
        assert_eq!(b.trips.len(), 1);
        let trip = &b.trips[0];
        assert_eq!(
            (trip.start_ms, trip.end_ms, trip.duration_s),
            (1_764_000_000_000, 1_764_000_600_000, 600)
        );
        assert_eq!(
            (trip.max_speed_kmh, trip.idle_s, trip.fuel_used_l),
            (61.0, 45.0, None)
        );
        assert_eq!((trip.start_lat, trip.end_lon), (Some(44.7), Some(17.2)));
        assert_eq!((trip.vehicle_id, b.stays[0].vehicle_id), (Some(12), None));
        assert_eq!(b.stays[0].start_ms, 1_763_996_400_000);
        assert_eq!(
            (
                b.arrivals[0].route_id,
                b.arrivals[0].stop_id,
                b.arrivals[0].seq
            ),
            (3, 11, 2)
        );
        assert_eq!(
            b.departures[0],
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
