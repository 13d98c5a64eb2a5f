//! The motion state machine of a vehicle: Offline → Parked / Idling / Moving, with trip
//! start and stop, engine hours. Pure: fed device times, it returns the events.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::entity::{EntityEvent, Motion};

#[derive(Debug, Clone)]
pub struct MotionSettings {
    /// At or above this speed a vehicle with its ignition on is moving.
    pub moving_kmh: f64,
    /// A trip ends when the vehicle has not moved for this long (or its ignition goes off).
    pub trip_stop_after: Duration,
    /// Gaps between records longer than this do not count towards engine hours.
    pub max_gap: Duration,
}

impl Default for MotionSettings {
    fn default() -> Self {
        Self {
            moving_kmh: 5.0,
            trip_stop_after: Duration::from_secs(300),
            max_gap: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Trip {
    started_at: DateTime<Utc>,
    distance_m: f64,
    start: Option<(f64, f64)>,
    max_speed_kmh: f64,
    idle_s: f64,
    fuel_at_start: Option<f64>,
    fuel_last: Option<f64>,
}

impl Trip {
    fn ended(&self, at: DateTime<Utc>, end: Option<(f64, f64)>) -> EntityEvent {
        EntityEvent::TripEnded {
            at,
            started_at: self.started_at,
            distance_m: self.distance_m,
            duration_s: (at - self.started_at).num_seconds(),
            lat: end.map(|p| p.0),
            lon: end.map(|p| p.1),
            start_lat: self.start.map(|p| p.0),
            start_lon: self.start.map(|p| p.1),
            max_speed_kmh: self.max_speed_kmh,
            idle_s: self.idle_s,
            fuel_used_l: self
                .fuel_at_start
                .zip(self.fuel_last)
                .map(|(a, b)| (b - a).max(0.0)),
        }
    }
}

/// One live record's facts, as the state machine needs them.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    pub at: DateTime<Utc>,
    pub speed_kmh: f64,
    pub ignition: Option<bool>,
    pub position: Option<(f64, f64)>,
    /// Metres from the previous fix.
    pub distance_m: f64,
    /// The CAN fuel-used counter (litres), when reported.
    pub fuel_used_l: Option<f64>,
}

/// (latitude, longitude) in degrees.
type LatLon = (f64, f64);

#[derive(Debug, Clone)]
pub struct MotionTracker {
    pub motion: Motion,
    trip: Option<Trip>,
    stopped_since: Option<DateTime<Utc>>,
    last: Option<(DateTime<Utc>, bool)>,
    pub engine_seconds: f64,
    /// Where and since when the vehicle has stood since its last trip.
    stay: Option<(DateTime<Utc>, Option<LatLon>)>,
    last_position: Option<(f64, f64)>,
}

impl Default for MotionTracker {
    fn default() -> Self {
        Self {
            motion: Motion::Offline,
            trip: None,
            stopped_since: None,
            last: None,
            engine_seconds: 0.0,
            stay: None,
            last_position: None,
        }
    }
}

impl MotionTracker {
    /// Feeds one live record (in device-time order) and returns what it caused.
    pub fn observe(&mut self, o: Observation, s: &MotionSettings) -> Vec<EntityEvent> {
        let mut events = Vec::new();
        let (lat, lon) = o.position.map_or((None, None), |(a, b)| (Some(a), Some(b)));
        let moving_now = o.speed_kmh >= s.moving_kmh;
        let ignition = o.ignition.unwrap_or(moving_now);
        let next = match (ignition, moving_now) {
            (false, _) => Motion::Parked,
            (true, true) => Motion::Moving,
            (true, false) => Motion::Idling,
        };
        if let Some((last_at, last_ignition)) = self.last {
            let gap = (o.at - last_at).to_std().unwrap_or_default();
            if last_ignition && gap <= s.max_gap {
                self.engine_seconds += gap.as_secs_f64();
                if self.motion == Motion::Idling {
                    if let Some(trip) = &mut self.trip {
                        trip.idle_s += gap.as_secs_f64();
                    }
                }
            }
        }
        if o.position.is_some() {
            self.last_position = o.position;
        }
        self.last = Some((o.at, ignition));
        if self.motion == Motion::Offline {
            events.push(EntityEvent::WentOnline { at: o.at });
        }
        if next != self.motion {
            events.push(EntityEvent::MotionChanged {
                at: o.at,
                from: self.motion,
                to: next,
            });
            self.motion = next;
        }
        if let Some(trip) = &mut self.trip {
            trip.distance_m += o.distance_m;
            trip.max_speed_kmh = trip.max_speed_kmh.max(o.speed_kmh);
            if o.fuel_used_l.is_some() {
                trip.fuel_last = o.fuel_used_l;
                trip.fuel_at_start = trip.fuel_at_start.or(o.fuel_used_l);
            }
        }
        if next == Motion::Moving {
            self.stopped_since = None;
            if self.trip.is_none() {
                if let Some((since, at)) = self.stay.take() {
                    events.push(EntityEvent::StopEnded {
                        at: o.at,
                        started_at: since,
                        duration_s: (o.at - since).num_seconds(),
                        lat: at.map(|p| p.0),
                        lon: at.map(|p| p.1),
                    });
                }
                self.trip = Some(Trip {
                    started_at: o.at,
                    distance_m: 0.0,
                    start: o.position.or(self.last_position),
                    max_speed_kmh: o.speed_kmh,
                    idle_s: 0.0,
                    fuel_at_start: o.fuel_used_l,
                    fuel_last: o.fuel_used_l,
                });
                events.push(EntityEvent::TripStarted { at: o.at, lat, lon });
            }
        } else if let Some(trip) = &self.trip {
            let stopped = *self.stopped_since.get_or_insert(o.at);
            let still_long_enough =
                (o.at - stopped).to_std().unwrap_or_default() >= s.trip_stop_after;
            if next == Motion::Parked || still_long_enough {
                let end = o.position.or(self.last_position);
                events.push(trip.ended(stopped, end));
                self.stay = Some((stopped, end));
                self.trip = None;
                self.stopped_since = None;
            }
        }
        events
    }

    /// No data since `last_seen`: the vehicle goes offline, closing an open trip.
    pub fn silence(&mut self, now: DateTime<Utc>, last_seen: DateTime<Utc>) -> Vec<EntityEvent> {
        if self.motion == Motion::Offline {
            return Vec::new();
        }
        let mut events = Vec::new();
        if let Some(trip) = self.trip.take() {
            let end = self.stopped_since.unwrap_or(last_seen);
            events.push(trip.ended(end, self.last_position));
            self.stay = Some((end, self.last_position));
        }
        self.stopped_since = None;
        events.push(EntityEvent::WentOffline { at: now, last_seen });
        self.motion = Motion::Offline;
        events
    }

    pub fn trip_open(&self) -> bool {
        self.trip.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_764_000_000 + s, 0).unwrap()
    }

    fn obs(s: i64, speed: f64, ignition: Option<bool>, distance: f64) -> Observation {
        Observation {
            at: t(s),
            speed_kmh: speed,
            ignition,
            position: Some((44.77, 17.19)),
            distance_m: distance,
            fuel_used_l: None,
        }
    }

    fn kinds(e: &[EntityEvent]) -> Vec<&'static str> {
        e.iter().map(EntityEvent::kind).collect()
    }

    #[test]
    fn a_trip_with_a_stop_at_a_bus_stop_and_an_ignition_off() {
        let s = MotionSettings::default();
        let mut m = MotionTracker::default();
        assert_eq!(
            kinds(&m.observe(obs(0, 0.0, Some(false), 0.0), &s)),
            ["went_online", "motion_changed"]
        );
        assert_eq!(m.motion, Motion::Parked);
        assert_eq!(
            kinds(&m.observe(obs(60, 0.0, Some(true), 0.0), &s)),
            ["motion_changed"]
        );
        assert_eq!(m.motion, Motion::Idling);
        assert_eq!(
            kinds(&m.observe(obs(70, 30.0, Some(true), 0.0), &s)),
            ["motion_changed", "trip_started"]
        );
        assert!(m.observe(obs(80, 35.0, Some(true), 90.0), &s).is_empty());
        // A 20 s stop at a bus stop does not end the trip.
        assert_eq!(
            kinds(&m.observe(obs(90, 0.0, Some(true), 10.0), &s)),
            ["motion_changed"]
        );
        assert!(m.observe(obs(110, 0.0, Some(true), 0.0), &s).is_empty());
        assert_eq!(
            kinds(&m.observe(obs(120, 25.0, Some(true), 5.0), &s)),
            ["motion_changed"]
        );
        assert!(m.trip_open());
        // Ignition off ends it, at the time the vehicle stopped.
        m.observe(obs(130, 0.0, Some(true), 80.0), &s);
        let end = m.observe(obs(150, 0.0, Some(false), 0.0), &s);
        assert_eq!(kinds(&end), ["motion_changed", "trip_ended"]);
        match &end[1] {
            EntityEvent::TripEnded {
                at,
                started_at,
                distance_m,
                duration_s,
                ..
            } => {
                assert_eq!((*at, *started_at), (t(130), t(70)));
                assert_eq!(*duration_s, 60);
                assert!((distance_m - 185.0).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
        // Engine hours: ignition on from 60 s to 150 s.
        assert!(
            (m.engine_seconds - 90.0).abs() < 1e-9,
            "{}",
            m.engine_seconds
        );
    }

    #[test]
    fn trips_carry_their_figures_and_stays_lie_between_them() {
        let s = MotionSettings::default();
        let mut m = MotionTracker::default();
        let fuel = |s: i64, speed: f64, ign: bool, d: f64, f: f64| Observation {
            fuel_used_l: Some(f),
            ..obs(s, speed, Some(ign), d)
        };
        m.observe(fuel(0, 30.0, true, 0.0, 100.0), &s);
        m.observe(fuel(10, 62.0, true, 150.0, 100.2), &s);
        m.observe(fuel(20, 0.0, true, 100.0, 100.3), &s); // idling from here
        m.observe(fuel(50, 0.0, true, 0.0, 100.4), &s); // 30 s idle
        m.observe(fuel(60, 20.0, true, 0.0, 100.5), &s);
        let end = m.observe(fuel(70, 0.0, false, 40.0, 100.6), &s);
        let Some(EntityEvent::TripEnded {
            max_speed_kmh,
            idle_s,
            fuel_used_l,
            start_lat,
            distance_m,
            ..
        }) = end.last()
        else {
            panic!("{end:?}")
        };
        assert_eq!(*max_speed_kmh, 62.0);
        assert_eq!(*idle_s, 40.0, "idling 20→50 s and 50→60 s");
        assert!((fuel_used_l.unwrap() - 0.6).abs() < 1e-9);
        assert_eq!(*start_lat, Some(44.77));
        assert_eq!(*distance_m, 290.0);
        // Parked from 70 s; the next trip at 400 s ends the stay.
        let next = m.observe(fuel(400, 25.0, true, 0.0, 100.6), &s);
        assert_eq!(
            kinds(&next),
            ["motion_changed", "stop_ended", "trip_started"]
        );
        match &next[1] {
            EntityEvent::StopEnded {
                started_at,
                duration_s,
                ..
            } => assert_eq!((*started_at, *duration_s), (t(70), 330)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_long_idle_ends_the_trip_and_silence_goes_offline() {
        let s = MotionSettings::default();
        let mut m = MotionTracker::default();
        m.observe(obs(0, 40.0, Some(true), 0.0), &s);
        assert!(m.trip_open());
        m.observe(obs(10, 0.0, Some(true), 50.0), &s);
        assert!(m.observe(obs(200, 0.0, Some(true), 0.0), &s).is_empty());
        let e = m.observe(obs(310, 0.0, Some(true), 0.0), &s);
        assert_eq!(kinds(&e), ["trip_ended"]);
        assert_eq!(e[0].at(), t(10));
        m.observe(obs(400, 40.0, None, 0.0), &s);
        assert!(m.trip_open(), "no ignition IO: speed decides");
        let off = m.silence(t(1000), t(400));
        assert_eq!(kinds(&off), ["trip_ended", "went_offline"]);
        assert_eq!(m.motion, Motion::Offline);
        assert!(m.silence(t(2000), t(400)).is_empty(), "offline once");
        assert_eq!(
            kinds(&m.observe(obs(2100, 0.0, Some(false), 0.0), &s)),
            ["went_online", "motion_changed"]
        );
    }
}
