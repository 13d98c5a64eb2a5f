//! Routes and the per-vehicle tracker that turns fixes into stop arrivals and departures.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

const EARTH_RADIUS_M: f64 = 6_371_008.8;

#[derive(Debug, Clone, PartialEq)]
pub struct StopDef {
    pub id: i64,
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
}

/// A route: its stops in order, in a local metric plane around the first.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteDef {
    pub id: i64,
    pub stops: Vec<StopDef>,
    /// Distance along the route (through the stops) to each stop, metres.
    pub along_m: Vec<f64>,
    origin: (f64, f64, f64),
    xy: Vec<(f64, f64)>,
}

impl RouteDef {
    pub fn new(id: i64, stops: Vec<StopDef>) -> Self {
        let (lat0, lon0) = stops.first().map_or((0.0, 0.0), |s| (s.lat, s.lon));
        let origin = (lat0, lon0, lat0.to_radians().cos());
        let mut r = Self {
            id,
            stops,
            along_m: Vec::new(),
            origin,
            xy: Vec::new(),
        };
        r.xy = r.stops.iter().map(|s| r.project(s.lat, s.lon)).collect();
        let mut total = 0.0;
        r.along_m =
            r.xy.iter()
                .enumerate()
                .map(|(i, p)| {
                    if i > 0 {
                        total += dist(r.xy[i - 1], *p);
                    }
                    total
                })
                .collect();
        r
    }

    fn project(&self, lat: f64, lon: f64) -> (f64, f64) {
        let (lat0, lon0, k) = self.origin;
        (
            (lon - lon0).to_radians() * k * EARTH_RADIUS_M,
            (lat - lat0).to_radians() * EARTH_RADIUS_M,
        )
    }

    /// Where a position lies on the leg from stop `seq` to the next: 0 at the stop, 1 at
    /// the next (clamped).
    pub fn fraction(&self, seq: usize, lat: f64, lon: f64) -> f64 {
        let (Some(a), Some(b)) = (self.xy.get(seq), self.xy.get(seq + 1)) else {
            return 0.0;
        };
        let p = self.project(lat, lon);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        if len2 == 0.0 {
            return 0.0;
        }
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    }

    /// The leg's length in metres.
    pub fn leg_m(&self, seq: usize) -> f64 {
        match (self.along_m.get(seq), self.along_m.get(seq + 1)) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        }
    }
}

fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// Distance from `p` to the segment a–b, and where along it (0..1) the closest point lies.
fn to_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    };
    (dist(p, (a.0 + t * dx, a.1 + t * dy)), t)
}

/// Every route and which vehicle runs which.
#[derive(Debug, Default)]
pub struct RouteIndex {
    pub routes: HashMap<i64, Arc<RouteDef>>,
    /// Vehicle id → route id.
    pub assignments: HashMap<i64, i64>,
}

impl RouteIndex {
    pub fn route_of(&self, vehicle: Option<i64>) -> Option<Arc<RouteDef>> {
        let r = self.assignments.get(&vehicle?)?;
        self.routes.get(r).cloned()
    }
}

impl RouteIndex {
    /// Builds the index from the stored network; routes with fewer than two stops and
    /// inactive routes are left out.
    pub fn from_network(n: &urbanstream_schema::store::Network) -> Self {
        let stops: HashMap<i64, &urbanstream_schema::models::StopRow> =
            n.stops.iter().map(|s| (s.id, s)).collect();
        let mut routes = HashMap::new();
        for r in n.routes.iter().filter(|r| r.active) {
            let list: Vec<StopDef> = n
                .route_stops
                .iter()
                .filter(|rs| rs.route_id == r.id)
                .filter_map(|rs| stops.get(&rs.stop_id))
                .map(|s| StopDef {
                    id: s.id,
                    lat: s.lat,
                    lon: s.lon,
                    radius_m: s.radius_m,
                })
                .collect();
            if list.len() >= 2 {
                routes.insert(r.id, Arc::new(RouteDef::new(r.id, list)));
            }
        }
        let assignments = n
            .assignments
            .iter()
            .map(|a| (a.vehicle_id, a.route_id))
            .collect();
        Self {
            routes,
            assignments,
        }
    }
}

/// The route index the vehicles read, replaced when routes, stops or assignments change.
pub type SharedRoutes = crate::shared::Swap<RouteIndex>;

#[derive(Debug, Clone, PartialEq)]
pub enum RouteEvent {
    Arrived {
        route: i64,
        stop: i64,
        seq: usize,
        at_ms: i64,
    },
    Departed {
        route: i64,
        stop: i64,
        seq: usize,
        arrived_ms: i64,
        at_ms: i64,
    },
}

/// Where a vehicle is on its route, for ETAs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Progress {
    pub route: i64,
    /// The last stop reached (its place in the route).
    pub seq: usize,
    /// Still at that stop.
    pub at_stop: bool,
    /// Share of the leg to the next stop behind it (0..1).
    pub fraction: f64,
    /// Device time of this state, ms.
    pub at_ms: i64,
    /// When it reached / left the last stop, ms.
    pub since_ms: i64,
}

/// A vehicle's place on its route: arrival on entering a stop's radius, departure on
/// leaving it (with a margin against GPS drift), and a pass-through when two fixes straddle
/// the next stop without either inside.
#[derive(Debug, Clone, Default)]
pub struct RouteTracker {
    route: Option<i64>,
    /// (seq, arrived at) while at a stop.
    at_stop: Option<(usize, i64)>,
    /// Last stop reached and when the vehicle left it.
    last: Option<(usize, i64)>,
    prev: Option<(i64, (f64, f64))>,
    progress: Option<Progress>,
}

/// Extra distance beyond a stop's radius before the vehicle counts as gone.
const LEAVE_MARGIN_M: f64 = 10.0;

impl RouteTracker {
    pub fn progress(&self) -> Option<Progress> {
        self.progress
    }

    /// One live fix in device-time order.
    pub fn observe(
        &mut self,
        route: Option<&RouteDef>,
        at_ms: i64,
        lat: f64,
        lon: f64,
    ) -> Vec<RouteEvent> {
        let mut out = Vec::new();
        let Some(route) = route else {
            *self = Self::default();
            return out;
        };
        if self.route != Some(route.id) {
            *self = Self {
                route: Some(route.id),
                ..Self::default()
            };
        }
        let p = route.project(lat, lon);
        if let Some((seq, arrived)) = self.at_stop {
            let s = &route.stops[seq];
            if dist(p, route.xy[seq]) > s.radius_m + LEAVE_MARGIN_M {
                out.push(RouteEvent::Departed {
                    route: route.id,
                    stop: s.id,
                    seq,
                    arrived_ms: arrived,
                    at_ms,
                });
                self.at_stop = None;
                self.last = Some((seq, at_ms));
            }
        }
        if self.at_stop.is_none() {
            // The nearest stop whose radius holds the fix, preferring the next in order.
            let expected = self.last.map_or(0, |(s, _)| s + 1);
            let inside = route
                .xy
                .iter()
                .enumerate()
                .filter(|(i, xy)| dist(p, **xy) <= route.stops[*i].radius_m)
                .filter(|(i, _)| self.last.is_none_or(|(s, _)| *i != s))
                .min_by(|a, b| {
                    let key = |(i, xy): &(usize, &(f64, f64))| (*i != expected, dist(p, **xy));
                    key(a)
                        .partial_cmp(&key(b))
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .map(|(i, _)| i);
            if let Some(seq) = inside {
                out.push(RouteEvent::Arrived {
                    route: route.id,
                    stop: route.stops[seq].id,
                    seq,
                    at_ms,
                });
                self.at_stop = Some((seq, at_ms));
            } else if let (Some((t0, p0)), true) = (self.prev, expected < route.stops.len()) {
                // Passed the next stop between two fixes?
                let (d, t) = to_segment(route.xy[expected], p0, p);
                if d <= route.stops[expected].radius_m
                    && dist(p0, route.xy[expected]) > route.stops[expected].radius_m
                {
                    let at = t0 + ((at_ms - t0) as f64 * t) as i64;
                    let stop = route.stops[expected].id;
                    out.push(RouteEvent::Arrived {
                        route: route.id,
                        stop,
                        seq: expected,
                        at_ms: at,
                    });
                    out.push(RouteEvent::Departed {
                        route: route.id,
                        stop,
                        seq: expected,
                        arrived_ms: at,
                        at_ms: at,
                    });
                    self.last = Some((expected, at));
                }
            }
        }
        self.prev = Some((at_ms, p));
        self.progress = match (self.at_stop, self.last) {
            (Some((seq, since)), _) => Some(Progress {
                route: route.id,
                seq,
                at_stop: true,
                fraction: 0.0,
                at_ms,
                since_ms: since,
            }),
            (None, Some((seq, since))) => Some(Progress {
                route: route.id,
                seq,
                at_stop: false,
                fraction: route.fraction(seq, lat, lon),
                at_ms,
                since_ms: since,
            }),
            (None, None) => None,
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAT: f64 = 44.7722;
    const LON: f64 = 17.191;

    fn north(m: f64) -> (f64, f64) {
        (LAT + m / 111_195.0, LON)
    }

    /// Stops every 500 m due north, radius 30 m.
    fn line(n: usize) -> RouteDef {
        RouteDef::new(
            1,
            (0..n)
                .map(|i| {
                    let (lat, lon) = north(i as f64 * 500.0);
                    StopDef {
                        id: 100 + i as i64,
                        lat,
                        lon,
                        radius_m: 30.0,
                    }
                })
                .collect(),
        )
    }

    fn drive(t: &mut RouteTracker, r: &RouteDef, fixes: &[(i64, f64)]) -> Vec<RouteEvent> {
        fixes
            .iter()
            .flat_map(|&(s, m)| {
                let (lat, lon) = north(m);
                t.observe(Some(r), s * 1000, lat, lon)
            })
            .collect()
    }

    #[test]
    fn arrivals_departures_drift_and_pass_through() {
        let r = line(4);
        assert!((r.along_m[3] - 1500.0).abs() < 1.0, "{:?}", r.along_m);
        let mut t = RouteTracker::default();
        // At stop 0, drifting at its edge (25-38 m: inside the radius plus margin), away.
        let e = drive(
            &mut t,
            &r,
            &[(0, 5.0), (10, 25.0), (20, 38.0), (30, 26.0), (40, 60.0)],
        );
        assert_eq!(
            e,
            [
                RouteEvent::Arrived {
                    route: 1,
                    stop: 100,
                    seq: 0,
                    at_ms: 0
                },
                RouteEvent::Departed {
                    route: 1,
                    stop: 100,
                    seq: 0,
                    arrived_ms: 0,
                    at_ms: 40_000
                },
            ]
        );
        let p = t.progress().unwrap();
        assert_eq!((p.seq, p.at_stop), (0, false));
        assert!((p.fraction - 60.0 / 500.0).abs() < 0.01);
        // Stop 1 with a 30 s dwell; stop 2 passed between fixes at 960 m and 1040 m.
        let e = drive(
            &mut t,
            &r,
            &[
                (80, 490.0),
                (100, 505.0),
                (110, 560.0),
                (140, 960.0),
                (145, 1040.0),
            ],
        );
        assert_eq!(
            e,
            [
                RouteEvent::Arrived {
                    route: 1,
                    stop: 101,
                    seq: 1,
                    at_ms: 80_000
                },
                RouteEvent::Departed {
                    route: 1,
                    stop: 101,
                    seq: 1,
                    arrived_ms: 80_000,
                    at_ms: 110_000
                },
                RouteEvent::Arrived {
                    route: 1,
                    stop: 102,
                    seq: 2,
                    at_ms: 142_500
                },
                RouteEvent::Departed {
                    route: 1,
                    stop: 102,
                    seq: 2,
                    arrived_ms: 142_500,
                    at_ms: 142_500
                },
            ]
        );
        // Off route: no vehicle route, state resets.
        assert!(t.observe(None, 200_000, LAT, LON).is_empty());
        assert!(t.progress().is_none());
    }
}
