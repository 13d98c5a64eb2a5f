//! ETAs from segment times learned from past arrivals, per leg of the route and hour of the
//! day, applied from the vehicle's progress along the route, rather than straight-line
//! distance over the current speed.

use std::collections::HashMap;

use serde::Serialize;

use super::route::{Progress, RouteDef};

/// Used for a leg with no history at all.
const DEFAULT_SPEED_MPS: f64 = 20.0 / 3.6;
/// Gaps between consecutive stops longer than this are not one run.
const MAX_LEG_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Clone, Copy, Default)]
struct Mean {
    sum: f64,
    n: u32,
}

impl Mean {
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.n += 1;
    }

    fn get(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / f64::from(self.n))
    }
}

/// One arrival as the model learns from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    pub device_id: i64,
    pub seq: usize,
    pub arrived_ms: i64,
    pub departed_ms: Option<i64>,
}

/// Learned travel (departure from stop i to arrival at i+1) and dwell times of one route.
#[derive(Debug, Clone, Default)]
pub struct EtaModel {
    /// (leg, hour of day) and leg alone, seconds.
    travel: HashMap<(usize, u32), Mean>,
    travel_any: HashMap<usize, Mean>,
    dwell: HashMap<(usize, u32), Mean>,
    dwell_any: HashMap<usize, Mean>,
}

fn hour(ms: i64) -> u32 {
    u32::try_from(ms.rem_euclid(86_400_000) / 3_600_000).unwrap_or(0)
}

/// An expected arrival at a stop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    pub seq: usize,
    pub eta_ms: i64,
}

impl EtaModel {
    /// Learns from a route's arrivals (any order).
    pub fn learn(arrivals: &[Observed]) -> Self {
        let mut m = Self::default();
        let mut by_device: HashMap<i64, Vec<&Observed>> = HashMap::new();
        for a in arrivals {
            by_device.entry(a.device_id).or_default().push(a);
        }
        for list in by_device.values_mut() {
            list.sort_by_key(|a| a.arrived_ms);
            for a in list.iter() {
                if let Some(d) = a.departed_ms {
                    let s = (d - a.arrived_ms) as f64 / 1000.0;
                    m.dwell
                        .entry((a.seq, hour(a.arrived_ms)))
                        .or_default()
                        .add(s);
                    m.dwell_any.entry(a.seq).or_default().add(s);
                }
            }
            for w in list.windows(2) {
                let (a, b) = (w[0], w[1]);
                let Some(left) = a.departed_ms else { continue };
                if b.seq != a.seq + 1 || b.arrived_ms < left || b.arrived_ms - left > MAX_LEG_MS {
                    continue;
                }
                let s = (b.arrived_ms - left) as f64 / 1000.0;
                m.travel.entry((a.seq, hour(left))).or_default().add(s);
                m.travel_any.entry(a.seq).or_default().add(s);
            }
        }
        m
    }

    /// Seconds to drive leg `seq` starting at `at_ms`.
    fn leg_s(&self, route: &RouteDef, seq: usize, at_ms: i64) -> f64 {
        self.travel
            .get(&(seq, hour(at_ms)))
            .and_then(Mean::get)
            .or_else(|| self.travel_any.get(&seq).and_then(Mean::get))
            .unwrap_or_else(|| route.leg_m(seq) / DEFAULT_SPEED_MPS)
    }

    fn dwell_s(&self, seq: usize, at_ms: i64) -> f64 {
        self.dwell
            .get(&(seq, hour(at_ms)))
            .and_then(Mean::get)
            .or_else(|| self.dwell_any.get(&seq).and_then(Mean::get))
            .unwrap_or(0.0)
    }

    /// Expected arrivals at the stops after the vehicle's position, as of `now_ms`.
    pub fn predict(&self, route: &RouteDef, p: &Progress, now_ms: i64) -> Vec<Prediction> {
        let n = route.stops.len();
        let mut out = Vec::new();
        if p.seq + 1 >= n {
            return out;
        }
        let mut t = now_ms as f64;
        if p.at_stop {
            // Still at the stop: the rest of its usual dwell, then the leg.
            let waited = (now_ms - p.since_ms) as f64 / 1000.0;
            t += (self.dwell_s(p.seq, p.since_ms) - waited).max(0.0) * 1000.0;
            t += self.leg_s(route, p.seq, t as i64) * 1000.0;
        } else {
            // Part way along the leg: the share of it still ahead, by position.
            let leg = self.leg_s(route, p.seq, p.since_ms);
            t += leg * (1.0 - p.fraction) * 1000.0;
        }
        out.push(Prediction {
            seq: p.seq + 1,
            eta_ms: t as i64,
        });
        for seq in p.seq + 1..n - 1 {
            t += self.dwell_s(seq, t as i64) * 1000.0;
            t += self.leg_s(route, seq, t as i64) * 1000.0;
            out.push(Prediction {
                seq: seq + 1,
                eta_ms: t as i64,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests;
