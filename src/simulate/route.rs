//! Bus lines around Banja Luka and a bus driving them: a pure function of time.

use std::f64::consts::PI;

pub use urbanstream_actors::geo::haversine_m;

/// A bus line: stops in order (lat, lon). Buses drive it out and back.
pub struct Line {
    pub name: &'static str,
    pub stops: &'static [(f64, f64)],
}

/// A few lines through the centre of Banja Luka (44.77 N, 17.19 E).
pub const LINES: &[Line] = &[
    Line {
        name: "1 Centar - Starcevica",
        stops: &[
            (44.7758, 17.1856),
            (44.7722, 17.1910),
            (44.7680, 17.1950),
            (44.7630, 17.2010),
            (44.7585, 17.2065),
        ],
    },
    Line {
        name: "2 Borik - Laus",
        stops: &[
            (44.7790, 17.2050),
            (44.7760, 17.1960),
            (44.7722, 17.1910),
            (44.7770, 17.1800),
            (44.7840, 17.1700),
        ],
    },
    Line {
        name: "3 Obilicevo - Rosulje",
        stops: &[
            (44.7930, 17.1990),
            (44.7850, 17.1950),
            (44.7722, 17.1910),
            (44.7650, 17.1830),
            (44.7560, 17.1760),
        ],
    },
];

/// Initial bearing from `a` to `b`, degrees 0..360.
pub fn bearing_deg(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let dlo = (b.1 - a.1).to_radians();
    let y = dlo.sin() * la2.cos();
    let x = la1.cos() * la2.sin() - la1.sin() * la2.cos() * dlo.cos();
    (y.atan2(x) * 180.0 / PI + 360.0) % 360.0
}

/// Where a bus is at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BusState {
    pub lat: f64,
    pub lon: f64,
    pub speed_kmh: f64,
    pub heading: f64,
    pub doors_open: bool,
    /// Metres driven since the start.
    pub distance_m: f64,
}

/// One leg: drive from a stop to the next, then dwell there.
struct Leg {
    from: (f64, f64),
    to: (f64, f64),
    length_m: f64,
    drive_s: f64,
}

/// A bus on a line: drives the stops out and back at `speed_kmh`, dwelling at each stop.
pub struct Bus {
    legs: Vec<Leg>,
    dwell_s: f64,
    cycle_s: f64,
    cycle_m: f64,
}

impl Bus {
    pub fn new(line: &Line, speed_kmh: f64, dwell_s: f64) -> Self {
        let mut path: Vec<(f64, f64)> = line.stops.to_vec();
        path.extend(line.stops.iter().rev().skip(1));
        let v = speed_kmh / 3.6;
        let legs: Vec<Leg> = path
            .windows(2)
            .map(|w| {
                let length_m = haversine_m(w[0], w[1]);
                Leg {
                    from: w[0],
                    to: w[1],
                    length_m,
                    drive_s: length_m / v,
                }
            })
            .collect();
        let cycle_s = legs.iter().map(|l| l.drive_s + dwell_s).sum();
        let cycle_m = legs.iter().map(|l| l.length_m).sum();
        Self {
            legs,
            dwell_s,
            cycle_s,
            cycle_m,
        }
    }

    /// The bus `t` seconds after it set off.
    pub fn at(&self, t: f64) -> BusState {
        let cycles = (t / self.cycle_s).floor().max(0.0);
        let mut rem = t - cycles * self.cycle_s;
        let mut distance = cycles * self.cycle_m;
        for leg in &self.legs {
            if rem < leg.drive_s {
                let f = rem / leg.drive_s;
                // Accelerate and brake: speed follows a sine over the leg.
                let peak = PI / 2.0 * leg.length_m / leg.drive_s * 3.6;
                return BusState {
                    lat: leg.from.0 + (leg.to.0 - leg.from.0) * f,
                    lon: leg.from.1 + (leg.to.1 - leg.from.1) * f,
                    speed_kmh: peak * (PI * f).sin(),
                    heading: bearing_deg(leg.from, leg.to),
                    doors_open: false,
                    distance_m: distance + leg.length_m * f,
                };
            }
            rem -= leg.drive_s;
            distance += leg.length_m;
            if rem < self.dwell_s {
                return BusState {
                    lat: leg.to.0,
                    lon: leg.to.1,
                    speed_kmh: 0.0,
                    heading: bearing_deg(leg.from, leg.to),
                    doors_open: true,
                    distance_m: distance,
                };
            }
            rem -= self.dwell_s;
        }
        let last = self.legs.last().map_or((0.0, 0.0), |l| l.to);
        BusState {
            lat: last.0,
            lon: last.1,
            speed_kmh: 0.0,
            heading: 0.0,
            doors_open: true,
            distance_m: distance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_and_bearing() {
        // One degree of latitude is about 111.2 km.
        assert!((haversine_m((44.0, 17.0), (45.0, 17.0)) - 111_195.0).abs() < 100.0);
        assert!((bearing_deg((44.0, 17.0), (45.0, 17.0)) - 0.0).abs() < 1e-6);
        assert!((bearing_deg((44.0, 17.0), (44.0, 18.0)) - 89.65).abs() < 0.1);
    }

    #[test]
    fn bus_starts_at_first_stop_dwells_and_returns() {
        let bus = Bus::new(&LINES[0], 36.0, 20.0);
        let s0 = bus.at(0.0);
        assert!((s0.lat - 44.7758).abs() < 1e-9 && s0.speed_kmh.abs() < 1e-9);
        let first = &bus.legs[0];
        let mid = bus.at(first.drive_s / 2.0);
        assert!(mid.speed_kmh > 36.0 && !mid.doors_open);
        let at_stop = bus.at(first.drive_s + 10.0);
        assert!(at_stop.doors_open && at_stop.speed_kmh == 0.0);
        assert!((at_stop.lat - 44.7722).abs() < 1e-9);
        // Back at the start after a full cycle, having driven the line twice.
        let end = bus.at(bus.cycle_s);
        assert!((end.lat - 44.7758).abs() < 1e-6);
        assert!((end.distance_m - bus.cycle_m).abs() < 1e-6);
        // Distance never decreases.
        let mut last = 0.0;
        for i in 0..2000 {
            let d = bus.at(f64::from(i) * 0.7).distance_m;
            assert!(d >= last);
            last = d;
        }
    }
}
