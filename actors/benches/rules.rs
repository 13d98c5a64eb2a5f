//! The rule engine's work per record: the vehicle's geofence check against 5,000 fences and
//! the evaluation of 50 alert rules of every kind, for 1,000 vehicles driving in turn.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde_json::json;
use urbanstream_actors::geo::{FenceIndex, FenceTracker};
use urbanstream_actors::rules::logic::{Evaluator, Sample};
use urbanstream_actors::rules::{Condition, Rule, Severity, Targets};
use urbanstream_schema::{DeviceId, VehicleId};

mod city;
use city::{drive, fences};

fn rules() -> Vec<Rule> {
    let kinds = [
        ("OVERSPEED", json!({"limit_kmh": 50, "min_duration_s": 5})),
        ("OVERSPEED", json!({"use_geofence_limits": true})),
        ("EXCESSIVE_IDLE", json!({})),
        ("LOW_FUEL", json!({})),
        ("FUEL_DROP", json!({})),
        ("ENGINE_ERROR", json!({})),
        ("DEVICE_OFFLINE", json!({})),
        ("HARSH_BRAKING", json!({})),
        ("HARSH_ACCELERATION", json!({})),
        ("GEOFENCE_ENTER", json!({})),
    ];
    (0..50)
        .map(|i| {
            let (kind, params) = &kinds[i % kinds.len()];
            let mut targets = Targets::default();
            if i % 5 == 4 {
                // Some rules watch a group only.
                targets.groups.insert(format!("group-{}", i % 3));
            }
            Rule {
                id: i as i64,
                name: format!("rule {i}"),
                condition: Condition::parse(kind, params).unwrap(),
                targets,
                severity: Severity::Warning,
                cooldown_ms: 60_000,
                channels: vec![],
                enabled: true,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut defs = fences(5_000, &mut rng);
    for (i, f) in defs.iter_mut().enumerate() {
        if i % 10 == 0 {
            f.speed_limit_kmh = Some(30.0);
        }
    }
    let index = FenceIndex::new(defs);
    let path = drive(20_000, &mut rng);
    let rules = rules();
    const VEHICLES: usize = 1_000;
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(1));
    let groups: Vec<String> = (0..VEHICLES).map(|v| format!("group-{}", v % 3)).collect();
    // Each vehicle's own speed cycle: accelerating, cruising, braking, standing.
    let speed = |v: usize, step: usize| -> f64 {
        let phase = (step + v * 7) % 60;
        match phase {
            0..=9 => phase as f64 * 6.0,
            10..=39 => 55.0 + ((v + step) % 11) as f64,
            40..=49 => (50 - phase) as f64 * 5.5,
            _ => 0.0,
        }
    };
    g.bench_function("record_5000_fences_50_rules", |b| {
        let mut eval = Evaluator::default();
        let mut trackers = vec![FenceTracker::default(); VEHICLES];
        let mut out = Vec::new();
        let mut i = 0usize;
        b.iter(|| {
            let v = i % VEHICLES;
            let step = i / VEHICLES;
            i += 1;
            let (lat, lon) = path[(v * 17 + step) % path.len()];
            let at_ms = 1_764_000_000_000 + step as i64 * 1_000;
            let fence_events = trackers[v].observe(&index, at_ms, lat, lon);
            let fence_limit = trackers[v].speed_limit(&index);
            let s = Sample {
                device_id: DeviceId(v as i64),
                vehicle_id: Some(VehicleId(v as i64)),
                group: Some(groups[v].clone()),
                at_ms,
                received_ms: at_ms,
                speed_kmh: speed(v, step),
                ignition: Some(true),
                position: Some((lat, lon)),
                fuel_pct: Some(60.0),
                dtc: Some(vec![]),
                green_driving: None,
                fence_limit,
                ..Sample::default()
            };
            eval.observe(&rules, &s, &mut out);
            let n = out.len() + fence_events.len();
            out.clear();
            n
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
