use geo::{LineString, Point, Polygon};

use super::*;

const LAT: f64 = 44.7722;
const LON: f64 = 17.191;

/// The point `east` and `north` metres from the reference, as (lat, lon).
fn at(east: f64, north: f64) -> (f64, f64) {
    let k = EARTH_RADIUS_M.to_radians();
    (LAT + north / k, LON + east / (k * LAT.to_radians().cos()))
}

fn ring(points: &[(f64, f64)]) -> LineString<f64> {
    points
        .iter()
        .map(|&(e, n)| {
            let (lat, lon) = at(e, n);
            (lon, lat)
        })
        .collect()
}

fn circle(id: i64, radius_m: f64, h: f64) -> FenceDef {
    FenceDef {
        id,
        name: format!("fence {id}"),
        shape: Shape::Circle {
            center: Point::new(LON, LAT),
            radius_m,
        },
        hysteresis_m: h,
        speed_limit_kmh: None,
    }
}

fn polygon(id: i64, outer: &[(f64, f64)], holes: &[&[(f64, f64)]]) -> FenceDef {
    FenceDef {
        id,
        name: format!("fence {id}"),
        shape: Shape::Polygon(Polygon::new(
            ring(outer),
            holes.iter().map(|h| ring(h)).collect(),
        )),
        hysteresis_m: 0.0,
        speed_limit_kmh: None,
    }
}

fn distance(f: &FenceDef, east: f64, north: f64) -> f64 {
    let index = FenceIndex::new([f.clone()]);
    let (lat, lon) = at(east, north);
    index.fences[0].signed_distance(lon, lat)
}

#[test]
fn signed_distances_of_each_shape() {
    let c = circle(1, 100.0, 0.0);
    // A U-shaped (concave) depot: two arms with a notch between them.
    let u = polygon(
        2,
        &[
            (0.0, 0.0),
            (300.0, 0.0),
            (300.0, 300.0),
            (200.0, 300.0),
            (200.0, 100.0),
            (100.0, 100.0),
            (100.0, 300.0),
            (0.0, 300.0),
            (0.0, 0.0),
        ],
        &[],
    );
    let holed = polygon(
        3,
        &[
            (0.0, 0.0),
            (400.0, 0.0),
            (400.0, 400.0),
            (0.0, 400.0),
            (0.0, 0.0),
        ],
        &[&[
            (100.0, 100.0),
            (300.0, 100.0),
            (300.0, 300.0),
            (100.0, 300.0),
            (100.0, 100.0),
        ]],
    );
    let corridor = FenceDef {
        id: 4,
        name: "corridor".into(),
        shape: Shape::Corridor {
            line: ring(&[(0.0, 0.0), (500.0, 0.0), (500.0, 500.0)]),
            width_m: 40.0,
        },
        hysteresis_m: 0.0,
        speed_limit_kmh: None,
    };
    // (fence, east, north, expected signed distance in metres)
    let cases: &[(&FenceDef, f64, f64, f64)] = &[
        (&c, 0.0, 0.0, -100.0),
        (&c, 60.0, 0.0, -40.0),
        (&c, 0.0, 130.0, 30.0),
        (&u, 50.0, 200.0, -50.0), // left arm, 50 m from its sides
        (&u, 150.0, 200.0, 50.0), // in the notch: outside, 50 m from the arms
        (&u, 150.0, 50.0, -50.0), // the base, below the notch
        (&u, 150.0, -20.0, 20.0), // south of the base
        (&holed, 50.0, 200.0, -50.0),
        (&holed, 200.0, 200.0, 100.0), // in the hole: outside
        (&holed, 200.0, 110.0, 10.0),
        (&corridor, 250.0, 10.0, -10.0),
        (&corridor, 250.0, 30.0, 10.0),
        (&corridor, 510.0, 250.0, -10.0), // second leg
        (&corridor, -15.0, 0.0, -5.0),    // before the start: round end
        (&corridor, -25.0, 0.0, 5.0),
        (&corridor, 500.0, 530.0, 10.0), // beyond the far end
    ];
    for &(f, e, n, want) in cases {
        let got = distance(f, e, n);
        assert!(
            (got - want).abs() < 0.5,
            "fence {} at ({e}, {n}): {got} m, want {want} m",
            f.id
        );
    }
}

/// What happened, as (change, fence, device time).
type Seen = (FenceChange, i64, i64);

fn drive(index: &FenceIndex, fixes: &[(i64, f64, f64)]) -> Vec<Seen> {
    let mut t = FenceTracker::default();
    fixes
        .iter()
        .flat_map(|&(ms, e, n)| {
            let (lat, lon) = at(e, n);
            t.observe(index, ms, lat, lon)
        })
        .map(|e| {
            let def = index.get(e.fence.0).unwrap();
            assert_eq!(&*e.name, def.name, "events carry the fence's name");
            (e.change, e.fence.0, e.at_ms)
        })
        .collect()
}

#[test]
fn hysteresis_keeps_edge_drift_from_flapping() {
    let index = FenceIndex::new([circle(7, 100.0, 20.0)]);
    // Drives in, then sits at the edge drifting ±8 m, then leaves.
    let mut fixes = vec![
        (0, 0.0, -300.0),
        (10_000, 0.0, -150.0),
        (20_000, 0.0, -85.0),
    ];
    for (i, drift) in [8.0, -8.0, 6.0, -7.0, 8.0, -5.0].iter().enumerate() {
        fixes.push((30_000 + i as i64 * 10_000, 0.0, -100.0 + drift));
    }
    fixes.push((100_000, 0.0, -115.0));
    let events = drive(&index, &fixes);
    assert_eq!(
        events,
        vec![
            (FenceChange::Entered, 7, 20_000),
            (FenceChange::Exited { dwell_ms: 80_000 }, 7, 100_000),
        ]
    );
    // Without hysteresis the same drift flaps at every fix.
    let flappy = FenceIndex::new([circle(7, 100.0, 0.0)]);
    assert_eq!(
        drive(&flappy, &fixes).len(),
        6,
        "enter and exit at every drift across the edge"
    );
}

#[test]
fn a_fix_far_away_exits_and_a_jump_across_is_a_crossing() {
    let index = FenceIndex::new([circle(1, 30.0, 10.0), circle(2, 2_000.0, 10.0)]);
    // Inside both, then 10 km away: both exited.
    let events = drive(&index, &[(0, 0.0, 0.0), (60_000, 10_000.0, 0.0)]);
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(events.contains(&(FenceChange::Exited { dwell_ms: 60_000 }, 1, 60_000)));
    assert!(events.contains(&(FenceChange::Exited { dwell_ms: 60_000 }, 2, 60_000)));

    // Fixes 200 m either side of the small circle, neither inside: it was crossed.
    let small = FenceIndex::new([circle(1, 30.0, 10.0)]);
    let events = drive(&small, &[(0, -200.0, 5.0), (20_000, 200.0, 5.0)]);
    assert_eq!(events, vec![(FenceChange::Crossed, 1, 10_000)]);
    // A path that passes beside it is not.
    assert!(drive(&small, &[(0, -200.0, 60.0), (20_000, 200.0, 60.0)]).is_empty());
}

#[test]
fn the_index_finds_the_containing_fences_among_many() {
    let mut defs = Vec::new();
    for i in 0..400 {
        let (lat, lon) = at(f64::from(i % 20) * 500.0, f64::from(i / 20) * 500.0);
        defs.push(FenceDef {
            id: i64::from(i),
            name: String::new(),
            shape: Shape::Circle {
                center: Point::new(lon, lat),
                radius_m: 100.0,
            },
            hysteresis_m: 10.0,
            speed_limit_kmh: None,
        });
    }
    let index = FenceIndex::new(defs);
    assert_eq!(index.len(), 400);
    let (lat, lon) = at(1_000.0 + 30.0, 1_500.0);
    assert_eq!(index.containing(lat, lon), vec![62]);
    let (lat, lon) = at(1_250.0, 1_500.0);
    assert!(index.containing(lat, lon).is_empty());
}
