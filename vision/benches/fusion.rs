//! Fusion throughput on one core: observations fused per second, with people walking in a room
//! seen by four cameras (each person by every camera, foot points with noise and appearance
//! vectors), and the memory held per live identity.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use urbanstream_vision::fusion::{Fusion, FusionConfig, Observation};
use urbanstream_vision::tracker::normalise;

/// A small deterministic generator (no dependency, same numbers every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `steps` instants of `people` walking around a 30 m × 20 m floor, seen by 4 cameras.
fn scene(people: usize, steps: usize, dim: usize) -> Vec<(f64, Vec<Observation>)> {
    let mut rng = Lcg(7);
    let protos: Vec<Vec<f32>> = (0..people)
        .map(|_| {
            let mut v: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
            normalise(&mut v);
            v
        })
        .collect();
    let phase: Vec<(f64, f64)> = (0..people)
        .map(|_| (rng.next() * std::f64::consts::TAU, 0.05 + rng.next() * 0.1))
        .collect();
    (0..steps)
        .map(|k| {
            let t = k as f64 * 0.1;
            let mut obs = Vec::with_capacity(people * 4);
            for cam in 0..4u32 {
                for (p, &(ph, w)) in phase.iter().enumerate() {
                    let x = 15.0 + 12.0 * (ph + w * t).cos() + 0.05 * rng.normal();
                    let y = 10.0 + 8.0 * (ph * 1.7 + w * t).sin() + 0.05 * rng.normal();
                    let mut e: Vec<f32> = protos[p]
                        .iter()
                        .map(|v| v + 0.05 * rng.normal() as f32)
                        .collect();
                    normalise(&mut e);
                    obs.push(Observation {
                        camera: cam,
                        track: p as u64,
                        floor: (x, y),
                        floor_var: 0.01,
                        embedding: Some(e),
                        clear: p % 3 != 0,
                    });
                }
            }
            (t, obs)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fusion");
    for people in [10usize, 25, 50] {
        let steps = 200;
        let data = scene(people, steps, 128);
        let n: usize = data.iter().map(|(_, o)| o.len()).sum();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("step_4_cameras", people),
            &data,
            |b, data| {
                b.iter(|| {
                    let mut f = Fusion::new(FusionConfig::default());
                    for (t, obs) in data {
                        black_box(f.step(*t, obs));
                    }
                    f.active()
                })
            },
        );
        let mut f = Fusion::new(FusionConfig::default());
        for (t, obs) in &data {
            f.step(*t, obs);
        }
        eprintln!(
            "fusion: {people} people → {} live identities, {} bytes each",
            f.active(),
            f.memory_bytes() / f.remembered().max(1)
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
