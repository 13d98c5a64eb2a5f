//! Geofence checks: 5,000 fences (circles, polygons, corridors) over a 20 × 20 km city, one
//! vehicle driving through them. One position check = R-tree query, exact distances to the
//! candidates, hysteresis state, crossing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use urbanstream_actors::geo::{FenceIndex, FenceTracker};

mod city;
use city::{drive, fences};

fn bench(c: &mut Criterion) {
    let mut rng = SmallRng::seed_from_u64(7);
    let index = FenceIndex::new(fences(5_000, &mut rng));
    let path = drive(20_000, &mut rng);
    let mut g = c.benchmark_group("geofence");
    g.throughput(Throughput::Elements(1));
    g.bench_function("position_check_5000_fences", |b| {
        let mut tracker = FenceTracker::default();
        let mut i = 0usize;
        let mut t = 0i64;
        b.iter(|| {
            let (lat, lon) = path[i % path.len()];
            i += 1;
            t += 1_000;
            tracker.observe(&index, t, lat, lon)
        });
    });
    g.bench_function("build_index_5000_fences", |b| {
        let defs = fences(5_000, &mut SmallRng::seed_from_u64(7));
        b.iter(|| FenceIndex::new(defs.clone()));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
