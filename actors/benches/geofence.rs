//! Geofence checks: 5,000 fences (circles, polygons, corridors) over a 20 × 20 km city, one
//! vehicle driving through them. One position check = R-tree query, exact distances to the
//! candidates, hysteresis state, crossing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use geo::{LineString, Point, Polygon};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use urbanstream_actors::rules::{FenceDef, FenceIndex, FenceTracker, Shape};

const LAT: f64 = 44.7722;
const LON: f64 = 17.191;
const M_PER_DEG: f64 = 111_195.0;

fn at(east: f64, north: f64) -> (f64, f64) {
    (
        LON + east / (M_PER_DEG * LAT.to_radians().cos()),
        LAT + north / M_PER_DEG,
    )
}

fn fences(n: usize, rng: &mut SmallRng) -> Vec<FenceDef> {
    (0..n)
        .map(|i| {
            let (e, nn) = (
                rng.random_range(-10_000.0..10_000.0),
                rng.random_range(-10_000.0..10_000.0),
            );
            let shape = match i % 3 {
                0 => {
                    let (lon, lat) = at(e, nn);
                    Shape::Circle {
                        center: Point::new(lon, lat),
                        radius_m: rng.random_range(50.0..300.0),
                    }
                }
                1 => {
                    let k = rng.random_range(6..12);
                    let r = rng.random_range(80.0..400.0);
                    let mut ring: Vec<(f64, f64)> = (0..k)
                        .map(|j| {
                            let a = std::f64::consts::TAU * f64::from(j) / f64::from(k);
                            let rr = if j % 2 == 0 { r } else { r * 0.5 }; // concave star
                            at(e + rr * a.cos(), nn + rr * a.sin())
                        })
                        .collect();
                    ring.push(ring[0]);
                    Shape::Polygon(Polygon::new(LineString::from(ring), vec![]))
                }
                _ => {
                    let mut pts = Vec::new();
                    let (mut x, mut y) = (e, nn);
                    for _ in 0..4 {
                        pts.push(at(x, y));
                        x += rng.random_range(-400.0..400.0);
                        y += rng.random_range(-400.0..400.0);
                    }
                    Shape::Corridor {
                        line: LineString::from(pts),
                        width_m: 30.0,
                    }
                }
            };
            FenceDef {
                id: i as i64,
                name: String::new(),
                shape,
                hysteresis_m: 20.0,
                speed_limit_kmh: None,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = SmallRng::seed_from_u64(7);
    let index = FenceIndex::new(fences(5_000, &mut rng));
    // A drive: 20,000 fixes 10 m apart, turning now and then.
    let (mut e, mut n, mut heading) = (0.0f64, 0.0f64, 0.0f64);
    let path: Vec<(f64, f64)> = (0..20_000)
        .map(|_| {
            heading += rng.random_range(-0.2..0.2);
            e = (e + 10.0 * heading.cos()).clamp(-10_000.0, 10_000.0);
            n = (n + 10.0 * heading.sin()).clamp(-10_000.0, 10_000.0);
            let (lon, lat) = at(e, n);
            (lat, lon)
        })
        .collect();
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
