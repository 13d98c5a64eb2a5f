use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::transit::route::StopDef;

const DAY_MS: i64 = 86_400_000;
const T0: i64 = 1_764_028_800_000; // a midnight, UTC

/// Ten stops 500 m to 1 km apart along a line.
fn route() -> RouteDef {
    let mut north = 0.0;
    let stops = (0..10)
        .map(|i| {
            if i > 0 {
                north += 500.0 + 500.0 * f64::from((i * 7) % 5) / 4.0;
            }
            StopDef {
                id: i64::from(i),
                lat: 44.77 + north / 111_195.0,
                lon: 17.19,
                radius_m: 30.0,
            }
        })
        .collect();
    RouteDef::new(1, stops)
}

/// km/h at an hour: rush hours are slow.
fn speed_at(ms: i64) -> f64 {
    match hour(ms) {
        7 | 8 | 16 | 17 => 14.0,
        6 | 9 | 15 | 18 => 22.0,
        _ => 32.0,
    }
}

/// One run from `start`: (arrived, departed) per stop, with noise.
fn run(r: &RouteDef, start: i64, rng: &mut SmallRng) -> Vec<(i64, i64)> {
    let mut t = start;
    let mut out = Vec::new();
    for seq in 0..r.stops.len() {
        let dwell = rng.random_range(10_000..35_000);
        out.push((t, t + dwell));
        t += dwell;
        if seq + 1 < r.stops.len() {
            let v = speed_at(t) * rng.random_range(0.85..1.15) / 3.6;
            t += (r.leg_m(seq) / v * 1000.0) as i64;
        }
    }
    out
}

fn runs_of_day(r: &RouteDef, day: i64, rng: &mut SmallRng) -> Vec<Vec<(i64, i64)>> {
    (0..48)
        .map(|k| run(r, T0 + day * DAY_MS + 6 * 3_600_000 + k * 20 * 60_000, rng))
        .collect()
}

#[test]
fn eta_error_against_actual_arrivals_in_a_simulated_week() {
    let r = route();
    let mut rng = SmallRng::seed_from_u64(42);
    let mut history = Vec::new();
    for day in 0..5 {
        for (k, stops) in runs_of_day(&r, day, &mut rng).into_iter().enumerate() {
            for (seq, (a, d)) in stops.into_iter().enumerate() {
                history.push(Observed {
                    device_id: k as i64 % 6,
                    seq,
                    arrived_ms: a,
                    departed_ms: Some(d),
                });
            }
        }
    }
    let model = EtaModel::learn(&history);
    // Day 6: at each departure, predict every later stop; compare with the actual arrival.
    let (mut err, mut naive_err, mut n) = (0.0, 0.0, 0.0);
    let (mut abs_s, mut worst) = (0.0f64, 0.0f64);
    for stops in runs_of_day(&r, 5, &mut rng) {
        for k in 0..stops.len() - 1 {
            let left = stops[k].1;
            let p = Progress {
                route: 1,
                seq: k,
                at_stop: false,
                fraction: 0.0,
                at_ms: left,
                since_ms: left,
            };
            for pred in model.predict(&r, &p, left) {
                let actual = stops[pred.seq].0;
                let real = (actual - left) as f64;
                let e = (pred.eta_ms - actual) as f64;
                // Naive: straight-line distance at the off-peak speed.
                let naive = (r.along_m[pred.seq] - r.along_m[k]) / (32.0 / 3.6) * 1000.0;
                err += e.abs() / real;
                naive_err += (naive - real).abs() / real;
                abs_s += e.abs() / 1000.0;
                worst = worst.max(e.abs() / 1000.0);
                n += 1.0;
            }
        }
    }
    let (mape, naive_mape, mae) = (err / n * 100.0, naive_err / n * 100.0, abs_s / n);
    println!(
        "ETA error over {n} predictions: mean absolute {mae:.0} s, {mape:.1} % of the travel time \
         (worst {worst:.0} s); distance over a fixed speed: {naive_mape:.1} %"
    );
    assert!(mape < 10.0, "{mape:.1} %");
    assert!(mape < naive_mape / 2.0, "{mape:.1} % vs {naive_mape:.1} %");
}

#[test]
fn a_vehicle_at_a_stop_or_part_way_along_a_leg() {
    let r = route();
    let h = T0 + 12 * 3_600_000;
    let history: Vec<Observed> = (0..4)
        .flat_map(|d| {
            let s = h + d * DAY_MS;
            // Leg 0: 100 s; dwell at 1: 30 s; leg 1: 200 s.
            [
                Observed {
                    device_id: 1,
                    seq: 0,
                    arrived_ms: s - 20_000,
                    departed_ms: Some(s),
                },
                Observed {
                    device_id: 1,
                    seq: 1,
                    arrived_ms: s + 100_000,
                    departed_ms: Some(s + 130_000),
                },
                Observed {
                    device_id: 1,
                    seq: 2,
                    arrived_ms: s + 330_000,
                    departed_ms: Some(s + 340_000),
                },
            ]
        })
        .collect();
    let m = EtaModel::learn(&history);
    let now = h + 10 * DAY_MS;
    let halfway = Progress {
        route: 1,
        seq: 0,
        at_stop: false,
        fraction: 0.5,
        at_ms: now,
        since_ms: now - 50_000,
    };
    let p = m.predict(&r, &halfway, now);
    assert_eq!(
        p[0],
        Prediction {
            seq: 1,
            eta_ms: now + 50_000
        }
    );
    assert_eq!(
        p[1],
        Prediction {
            seq: 2,
            eta_ms: now + 50_000 + 30_000 + 200_000
        }
    );
    assert_eq!(p.len(), 9, "every stop to the end");
    // At stop 1 for 10 s of its usual 30: 20 s more, then 200 s.
    let dwelling = Progress {
        route: 1,
        seq: 1,
        at_stop: true,
        fraction: 0.0,
        at_ms: now,
        since_ms: now - 10_000,
    };
    assert_eq!(
        m.predict(&r, &dwelling, now)[0],
        Prediction {
            seq: 2,
            eta_ms: now + 220_000
        }
    );
    // Stuck near the start of the leg long after leaving: what is ahead, by position.
    let late = Progress {
        route: 1,
        seq: 0,
        at_stop: false,
        fraction: 0.1,
        at_ms: now,
        since_ms: now - 95_000,
    };
    assert_eq!(m.predict(&r, &late, now)[0].eta_ms, now + 90_000);
    // No history for a leg: its length at 20 km/h.
    let unknown = EtaModel::default().predict(&r, &halfway, now);
    assert_eq!(
        unknown[0].eta_ms,
        now + (r.leg_m(0) * 0.5 / (20.0 / 3.6) * 1000.0) as i64
    );
}
