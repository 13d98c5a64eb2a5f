//! Punctuality: each arrival matched to the nearest scheduled time at its stop, and
//! counted on time when no more than a minute early or five minutes late.

use chrono::Datelike;
use serde::Serialize;

const DAY_MS: i64 = 86_400_000;
/// An arrival further than this from every scheduled time matches none.
const MATCH_WINDOW_MS: i64 = 30 * 60 * 1000;
pub const EARLY_S: f64 = 60.0;
pub const LATE_S: f64 = 300.0;

/// A departure from the first stop: seconds after midnight UTC, weekdays (bit 0 Monday).
#[derive(Debug, Clone, Copy)]
pub struct Departure {
    pub at_s: i32,
    pub days: i32,
}

/// One arrival as punctuality needs it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub seq: usize,
    pub arrived_ms: i64,
    pub dwell_s: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StopPerformance {
    pub seq: usize,
    pub arrivals: u32,
    /// Arrivals matched to a scheduled time.
    pub scheduled: u32,
    pub on_time: u32,
    pub on_time_pct: Option<f64>,
    /// Mean of (actual − scheduled), seconds; late is positive.
    pub avg_delay_s: Option<f64>,
    pub avg_dwell_s: Option<f64>,
}

/// The scheduled time nearest `at_ms` for a stop `offset_s` after each departure.
fn nearest_scheduled(deps: &[Departure], offset_s: i32, at_ms: i64) -> Option<i64> {
    let day0 = at_ms.div_euclid(DAY_MS) * DAY_MS;
    let mut best: Option<i64> = None;
    for day in [day0 - DAY_MS, day0, day0 + DAY_MS] {
        let weekday = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(day)?
            .weekday()
            .num_days_from_monday();
        for d in deps.iter().filter(|d| d.days & (1 << weekday) != 0) {
            let t = day + i64::from(d.at_s + offset_s) * 1000;
            if best.is_none_or(|b| (t - at_ms).abs() < (b - at_ms).abs()) {
                best = Some(t);
            }
        }
    }
    best.filter(|b| (b - at_ms).abs() <= MATCH_WINDOW_MS)
}

/// Punctuality and dwell per stop of a route (`offsets[seq]` from the timetable).
pub fn per_stop(offsets: &[i32], deps: &[Departure], arrivals: &[Arrival]) -> Vec<StopPerformance> {
    let mut out: Vec<StopPerformance> = (0..offsets.len())
        .map(|seq| StopPerformance {
            seq,
            ..StopPerformance::default()
        })
        .collect();
    let mut delay_sum = vec![0.0; offsets.len()];
    let mut dwell = vec![(0.0, 0u32); offsets.len()];
    for a in arrivals {
        let Some(s) = out.get_mut(a.seq) else {
            continue;
        };
        s.arrivals += 1;
        if let Some(d) = a.dwell_s {
            dwell[a.seq].0 += d;
            dwell[a.seq].1 += 1;
        }
        if let Some(t) = nearest_scheduled(deps, offsets[a.seq], a.arrived_ms) {
            let delay = (a.arrived_ms - t) as f64 / 1000.0;
            s.scheduled += 1;
            delay_sum[a.seq] += delay;
            if (-EARLY_S..=LATE_S).contains(&delay) {
                s.on_time += 1;
            }
        }
    }
    for (i, s) in out.iter_mut().enumerate() {
        if s.scheduled > 0 {
            s.on_time_pct = Some(f64::from(s.on_time) * 100.0 / f64::from(s.scheduled));
            s.avg_delay_s = Some(delay_sum[i] / f64::from(s.scheduled));
        }
        if dwell[i].1 > 0 {
            s.avg_dwell_s = Some(dwell[i].0 / f64::from(dwell[i].1));
        }
    }
    out
}

/// The route as a whole, from its stops.
pub fn overall(stops: &[StopPerformance]) -> StopPerformance {
    let mut t = StopPerformance::default();
    let (mut delay, mut dwell, mut dwell_n) = (0.0, 0.0, 0.0);
    for s in stops {
        t.arrivals += s.arrivals;
        t.scheduled += s.scheduled;
        t.on_time += s.on_time;
        delay += s.avg_delay_s.unwrap_or(0.0) * f64::from(s.scheduled);
        if let Some(d) = s.avg_dwell_s {
            dwell += d * f64::from(s.arrivals);
            dwell_n += f64::from(s.arrivals);
        }
    }
    if t.scheduled > 0 {
        t.on_time_pct = Some(f64::from(t.on_time) * 100.0 / f64::from(t.scheduled));
        t.avg_delay_s = Some(delay / f64::from(t.scheduled));
    }
    if dwell_n > 0.0 {
        t.avg_dwell_s = Some(dwell / dwell_n);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2025-11-24 was a Monday.
    const MONDAY: i64 = 1_763_942_400_000;

    #[test]
    fn arrivals_match_the_nearest_departure_on_its_days() {
        let deps = [
            Departure {
                at_s: 8 * 3600,
                days: 0b001_1111,
            }, // 08:00 weekdays
            Departure {
                at_s: 8 * 3600 + 1800,
                days: 0x7f,
            }, // 08:30 daily
        ];
        let offsets = [0, 600]; // the second stop 10 min after departure
        let at = |day: i64, h: i64, m: i64, s: i64| {
            MONDAY + day * DAY_MS + ((h * 60 + m) * 60 + s) * 1000
        };
        let arrivals = [
            Arrival {
                seq: 1,
                arrived_ms: at(0, 8, 12, 0),
                dwell_s: Some(20.0),
            }, // +2 min: on time
            Arrival {
                seq: 1,
                arrived_ms: at(0, 8, 46, 0),
                dwell_s: Some(40.0),
            }, // +6 min vs 08:40: late
            Arrival {
                seq: 1,
                arrived_ms: at(5, 8, 9, 30),
                dwell_s: None,
            }, // Saturday: 08:10 does not run; 08:40 is 30.5 min away
            Arrival {
                seq: 0,
                arrived_ms: at(1, 7, 59, 30),
                dwell_s: Some(60.0),
            }, // 30 s early: on time
            Arrival {
                seq: 0,
                arrived_ms: at(1, 8, 28, 0),
                dwell_s: None,
            }, // 2 min early: not on time
        ];
        let p = per_stop(&offsets, &deps, &arrivals);
        assert_eq!((p[1].arrivals, p[1].scheduled, p[1].on_time), (3, 2, 1));
        assert_eq!(p[1].avg_delay_s, Some((120.0 + 360.0) / 2.0));
        assert_eq!(p[1].avg_dwell_s, Some(30.0));
        assert_eq!((p[0].scheduled, p[0].on_time), (2, 1));
        assert_eq!(p[0].avg_delay_s, Some((-30.0 - 120.0) / 2.0));
        let all = overall(&p);
        assert_eq!((all.arrivals, all.scheduled, all.on_time), (5, 4, 2));
        assert_eq!(all.on_time_pct, Some(50.0));
    }
}
