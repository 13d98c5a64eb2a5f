//! A synthetic city for the benchmarks: fences over 20 × 20 km and a vehicle's drive.
#![allow(dead_code)]

use geo::{LineString, Point, Polygon};
use rand::rngs::SmallRng;
use rand::Rng;
use urbanstream_actors::geo::{FenceDef, Shape};

pub const LAT: f64 = 44.7722;
pub const LON: f64 = 17.191;
pub const M_PER_DEG: f64 = 111_195.0;

pub fn at(east: f64, north: f64) -> (f64, f64) {
    (
        LON + east / (M_PER_DEG * LAT.to_radians().cos()),
        LAT + north / M_PER_DEG,
    )
}

pub fn fences(n: usize, rng: &mut SmallRng) -> Vec<FenceDef> {
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

/// `n` fixes 10 m apart, turning now and then, as (lat, lon).
pub fn drive(n: usize, rng: &mut SmallRng) -> Vec<(f64, f64)> {
    let (mut e, mut north, mut heading) = (0.0f64, 0.0f64, 0.0f64);
    (0..n)
        .map(|_| {
            heading += rng.random_range(-0.2..0.2);
            e = (e + 10.0 * heading.cos()).clamp(-10_000.0, 10_000.0);
            north = (north + 10.0 * heading.sin()).clamp(-10_000.0, 10_000.0);
            let (lon, lat) = at(e, north);
            (lat, lon)
        })
        .collect()
}
