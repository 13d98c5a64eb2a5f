use serde_json::json;

use super::*;
use crate::rules::alert_rule::Targets;
use crate::rules::Condition;
use urbanstream_schema::{AlertId, DeviceId, GeofenceId, VehicleId};

use crate::entity::EntityEvent;
use crate::geo::{FenceChange, FenceDef, FenceEvent, Shape};

const T0: i64 = 1_764_000_000_000;

fn rule(id: i64, kind: &str, params: Value, cooldown_s: i64) -> Rule {
    Rule {
        id,
        name: format!("{kind} {id}"),
        condition: Condition::parse(kind, &params).unwrap(),
        targets: Targets::default(),
        severity: Severity::Warning,
        cooldown_ms: cooldown_s * 1000,
        channels: vec![],
        enabled: true,
    }
}

fn sample(at_s: i64, speed: f64) -> Sample {
    Sample {
        device_id: DeviceId(1),
        vehicle_id: Some(VehicleId(7)),
        at_ms: T0 + at_s * 1000,
        received_ms: T0 + at_s * 1000,
        speed_kmh: speed,
        ignition: Some(true),
        position: Some((52.0, 13.0)),
        ..Sample::default()
    }
}

/// ("raise" | "repeat" | "clear", seconds after T0) of each transition.
fn steps(out: &[Transition]) -> Vec<(&'static str, i64)> {
    out.iter()
        .map(|t| match t {
            Transition::Raise(a) => ("raise", (a.raised_ms - T0) / 1000),
            Transition::Repeat { at_ms, .. } => ("repeat", (at_ms - T0) / 1000),
            Transition::Clear { at_ms, .. } => ("clear", (at_ms - T0) / 1000),
        })
        .collect()
}

fn run(rules: &[Rule], samples: &[Sample]) -> (Evaluator, Vec<Transition>) {
    let mut e = Evaluator::default();
    let mut out = Vec::new();
    for s in samples {
        e.observe(rules, s, &mut out);
    }
    (e, out)
}

#[test]
fn overspeed_needs_its_duration_and_clears_under_the_limit() {
    let r = [rule(
        1,
        "OVERSPEED",
        json!({"limit_kmh": 50, "min_duration_s": 5}),
        0,
    )];
    // (second, speed): a 3 s burst stays silent, then 7 s over the limit, then back under.
    let speeds = [
        (0, 40.0),
        (1, 60.0),
        (2, 61.0),
        (3, 45.0),
        (10, 55.0),
        (12, 70.0),
        (15, 58.0),
        (17, 52.0),
        (18, 50.0),
        (19, 49.0),
    ];
    let samples: Vec<_> = speeds.iter().map(|&(t, v)| sample(t, v)).collect();
    let (e, out) = run(&r, &samples);
    assert_eq!(steps(&out), [("raise", 10), ("clear", 18)]);
    let Transition::Raise(a) = &out[0] else {
        panic!()
    };
    assert_eq!(a.kind, "OVERSPEED");
    assert_eq!(a.details["max_speed_kmh"], 70.0);
    assert_eq!(a.details["limit_kmh"], 50.0);
    let Transition::Clear { id, .. } = &out[1] else {
        panic!()
    };
    assert_eq!(id, &a.id);
    assert_eq!(e.open_count(), 0);
}

#[test]
fn a_geofence_speed_limit_applies_inside_it() {
    // A school zone (30) inside a town limit (50), each with a 20 m hysteresis band.
    let circle = |id: i64, radius_m: f64, limit: f64| FenceDef {
        id,
        name: format!("zone {id}"),
        shape: Shape::Circle {
            center: geo::Point::new(13.0, 52.0),
            radius_m,
        },
        hysteresis_m: 20.0,
        speed_limit_kmh: Some(limit),
    };
    let fences = FenceIndex::new([circle(9, 300.0, 30.0), circle(4, 3_000.0, 50.0)]);
    let r = [rule(
        1,
        "OVERSPEED",
        json!({"limit_kmh": 80, "min_duration_s": 0}),
        0,
    )];
    // Metres north of the centre: in the school zone, drifting on its edge (inside the
    // band: still in), out of it (the town limit holds), out of town.
    let path = [
        (0, 0.0, 40.0),
        (5, 305.0, 40.0),
        (10, 320.0, 40.0),
        (15, 600.0, 55.0),
        (20, 3_500.0, 70.0),
    ];
    let mut tracker = crate::geo::FenceTracker::default();
    let samples: Vec<Sample> = path
        .iter()
        .map(|&(t, north, v)| {
            let lat = 52.0 + north / 111_195.0;
            tracker.observe(&fences, T0 + t * 1000, lat, 13.0);
            Sample {
                position: Some((lat, 13.0)),
                fence_limit: tracker.speed_limit(&fences),
                ..sample(t, v)
            }
        })
        .collect();
    let limits: Vec<_> = samples.iter().map(|s| s.fence_limit).collect();
    assert_eq!(
        limits,
        [
            Some((30.0, GeofenceId(9))),
            Some((30.0, GeofenceId(9))),
            Some((50.0, GeofenceId(4))),
            Some((50.0, GeofenceId(4))),
            None
        ]
    );
    let (_, out) = run(&r, &samples);
    // 40 in the zone: over 30; 40 out of it: under 50, clears; 55 in town: over 50; 70 out
    // of town: under the rule's own 80, clears.
    assert_eq!(
        steps(&out),
        [("raise", 0), ("clear", 10), ("raise", 15), ("clear", 20)]
    );
    let Transition::Raise(a) = &out[0] else {
        panic!()
    };
    assert_eq!(a.details["geofence_id"], 9);
    assert_eq!(a.details["limit_kmh"], 30.0);
}

#[test]
fn dedup_while_active_and_cooldown_after_clear() {
    let r = [rule(
        1,
        "OVERSPEED",
        json!({"limit_kmh": 50, "min_duration_s": 0}),
        60,
    )];
    let speeds = [
        (0, 60.0),
        (1, 65.0),
        (2, 40.0),
        (30, 60.0),
        (31, 40.0),
        (70, 60.0),
    ];
    let samples: Vec<_> = speeds.iter().map(|&(t, v)| sample(t, v)).collect();
    let (_, out) = run(&r, &samples);
    // One alert for 0-2 s; the burst at 30 s falls in the 60 s cooldown; 70 s raises again.
    assert_eq!(steps(&out), [("raise", 0), ("clear", 2), ("raise", 70)]);
}

#[test]
fn idling_with_the_engine_on_past_the_limit() {
    let r = [rule(1, "EXCESSIVE_IDLE", json!({}), 0)];
    let mut samples: Vec<_> = (0..=17).map(|m| sample(m * 60, 0.0)).collect();
    samples.push(sample(18 * 60, 30.0));
    let (_, out) = run(&r, &samples);
    assert_eq!(steps(&out), [("raise", 16 * 60), ("clear", 18 * 60)]);
    // Ignition off: parked, not idling.
    let parked: Vec<_> = (0..=20)
        .map(|m| Sample {
            ignition: Some(false),
            ..sample(m * 60, 0.0)
        })
        .collect();
    assert!(run(&r, &parked).1.is_empty());
}

#[test]
fn low_fuel_has_hysteresis() {
    let r = [rule(1, "LOW_FUEL", json!({"below_pct": 15}), 0)];
    let levels = [
        (0, 20.0),
        (1, 14.0),
        (2, 16.0),
        (3, 14.5),
        (4, 19.0),
        (5, 20.0),
    ];
    let samples: Vec<_> = levels
        .iter()
        .map(|&(t, f)| Sample {
            fuel_pct: Some(f),
            ..sample(t, 0.0)
        })
        .collect();
    let (_, out) = run(&r, &samples);
    assert_eq!(steps(&out), [("raise", 1), ("clear", 5)]);
}

#[test]
fn fuel_drop_while_parked_not_while_driving() {
    let r = [rule(
        1,
        "FUEL_DROP",
        json!({"min_drop_pct": 10, "window_s": 600, "hold_s": 1800}),
        0,
    )];
    let parked = |t, f| Sample {
        fuel_pct: Some(f),
        ignition: Some(false),
        ..sample(t, 0.0)
    };
    let driving = |t, f| Sample {
        fuel_pct: Some(f),
        ..sample(t, 50.0)
    };
    let samples = [
        driving(0, 80.0),
        driving(600, 60.0), // burnt while driving: not theft
        parked(700, 60.0),
        parked(800, 59.0),
        parked(900, 45.0), // theft
        parked(1000, 45.0),
        parked(4000, 45.0), // an hour later: the alert clears (hold 30 min)
    ];
    let (_, out) = run(&r, &samples);
    assert_eq!(steps(&out), [("raise", 900), ("clear", 900 + 1800)]);
    let Transition::Raise(a) = &out[0] else {
        panic!()
    };
    assert_eq!(a.details["drop_pct"], 15.0);
}

#[test]
fn engine_error_while_codes_are_reported() {
    let r = [rule(1, "ENGINE_ERROR", json!({}), 0)];
    let codes = |t, c: &[&str]| Sample {
        dtc: Some(c.iter().map(|s| s.to_string()).collect()),
        ..sample(t, 0.0)
    };
    let samples = [
        codes(0, &[]),
        codes(1, &["P0300"]),
        codes(2, &["P0300"]),
        sample(3, 0.0),
        codes(4, &[]),
    ];
    let (_, out) = run(&r, &samples);
    assert_eq!(steps(&out), [("raise", 1), ("clear", 4)]);
    let Transition::Raise(a) = &out[0] else {
        panic!()
    };
    assert_eq!(a.details["codes"], json!(["P0300"]));
}

#[test]
fn harsh_braking_from_speed_and_from_the_device() {
    let r = [
        rule(1, "HARSH_BRAKING", json!({"hold_s": 60}), 0),
        rule(2, "HARSH_ACCELERATION", json!({}), 0),
    ];
    let samples = [
        sample(0, 60.0),
        sample(1, 40.0), // -20 km/h in 1 s: braking
        sample(2, 38.0),
        sample(10, 0.0), // 8 s gap: not compared
        Sample {
            green_driving: Some(2),
            ..sample(20, 30.0)
        }, // the device says so
        sample(200, 30.0),
    ];
    let (_, out) = run(&r, &samples);
    assert_eq!(steps(&out), [("raise", 1), ("repeat", 20), ("clear", 80)]);
    let Transition::Repeat { details, .. } = &out[1] else {
        panic!()
    };
    assert_eq!(details["source"], "device");
}

#[test]
fn device_offline_on_the_server_clock() {
    let r = [rule(1, "DEVICE_OFFLINE", json!({"after_s": 600}), 0)];
    let mut e = Evaluator::default();
    let mut out = Vec::new();
    e.observe(&r, &sample(0, 0.0), &mut out);
    e.tick(&r, T0 + 500_000, &mut out);
    assert!(out.is_empty());
    e.tick(&r, T0 + 601_000, &mut out);
    e.tick(&r, T0 + 700_000, &mut out);
    e.observe(&r, &sample(800, 0.0), &mut out);
    assert_eq!(steps(&out), [("raise", 601), ("clear", 800)]);
    // A device known from the database, never heard since start.
    e.known(DeviceId(2), EntityKind::Tracker, (None, None), Some(T0), T0);
    let mut out = Vec::new();
    e.tick(&r, T0 + 601_000, &mut out);
    assert!(matches!(&out[..], [Transition::Raise(a)] if a.device_id == DeviceId(2)));
}

#[test]
fn geofence_enter_and_exit_rules() {
    let r = [
        rule(1, "GEOFENCE_ENTER", json!({"geofence_ids": [5]}), 0),
        rule(2, "GEOFENCE_EXIT", json!({}), 0),
    ];
    let mut e = Evaluator::default();
    let mut out = Vec::new();
    let s = sample(0, 0.0);
    let at = |t: i64| T0 + t * 1000;
    let changes = [
        FenceEvent {
            change: FenceChange::Entered,
            fence: GeofenceId(5),
            name: "depot".into(),
            at_ms: at(1),
        },
        FenceEvent {
            change: FenceChange::Entered,
            fence: GeofenceId(6),
            name: "yard".into(),
            at_ms: at(2),
        },
        FenceEvent {
            change: FenceChange::Exited { dwell_ms: 0 },
            fence: GeofenceId(5),
            name: "depot".into(),
            at_ms: at(3),
        },
        FenceEvent {
            change: FenceChange::Entered,
            fence: GeofenceId(5),
            name: "depot".into(),
            at_ms: at(4),
        },
        FenceEvent {
            change: FenceChange::Crossed,
            fence: GeofenceId(5),
            name: "depot".into(),
            at_ms: at(9),
        },
    ];
    let changes: Vec<EntityEvent> = changes.into_iter().map(EntityEvent::from).collect();
    e.observe_events(&r, &s, &changes, &mut out);
    // Rule 1 (fence 5 only): in at 1, out at 3, in at 4 (still open at the crossing, so no
    // second alert). Rule 2: left fence 5 at 3, back at 4.
    let got: Vec<_> = out
        .iter()
        .map(|t| match t {
            Transition::Raise(a) => format!(
                "raise {} {} {}",
                a.rule_id,
                a.subject,
                (a.raised_ms - T0) / 1000
            ),
            Transition::Clear { at_ms, .. } => format!("clear {}", (at_ms - T0) / 1000),
            Transition::Repeat { .. } => "repeat".into(),
        })
        .collect();
    assert_eq!(
        got,
        [
            "raise 1 5 1",
            "clear 3",
            "raise 1 5 4",
            "clear 9",
            "raise 2 5 3",
            "clear 4"
        ]
    );
}

#[test]
fn late_records_become_history_not_live_alerts() {
    let r = [rule(
        1,
        "OVERSPEED",
        json!({"limit_kmh": 50, "min_duration_s": 0}),
        0,
    )];
    let mut e = Evaluator::default();
    let mut out = Vec::new();
    let late = [sample(0, 70.0), sample(1, 40.0), sample(2, 80.0)];
    e.observe_late(&r, &FenceIndex::default(), &late, &mut out);
    let [Transition::Raise(a)] = &out[..] else {
        panic!("{out:?}")
    };
    assert!(a.late);
    assert_eq!(a.occurrences, 2);
    assert_eq!(
        (
            a.raised_ms - T0,
            a.last_ms - T0,
            a.cleared_ms.map(|c| c - T0)
        ),
        (0, 2000, Some(2000))
    );
    assert_eq!(e.open_count(), 0);
    // The live state is untouched: a live record over the limit still raises.
    let mut out = Vec::new();
    e.observe(&r, &sample(10, 70.0), &mut out);
    assert_eq!(steps(&out), [("raise", 10)]);
}

#[test]
fn targets_and_disabled_rules() {
    let mut only_8 = rule(
        1,
        "OVERSPEED",
        json!({"limit_kmh": 50, "min_duration_s": 0}),
        0,
    );
    only_8.targets.vehicles.insert(8);
    let mut off = rule(
        2,
        "OVERSPEED",
        json!({"limit_kmh": 50, "min_duration_s": 0}),
        0,
    );
    off.enabled = false;
    let mut night = rule(
        3,
        "OVERSPEED",
        json!({"limit_kmh": 50, "min_duration_s": 0}),
        0,
    );
    night.targets.groups.insert("night".into());
    let s = Sample {
        group: Some("night".into()),
        ..sample(0, 70.0)
    };
    let (_, out) = run(&[only_8, off, night], &[s]);
    assert!(
        matches!(&out[..], [Transition::Raise(a)] if a.rule_id == 3),
        "{out:?}"
    );
}

#[test]
fn restored_alerts_clear_and_cooldowns_hold() {
    let r = [rule(
        1,
        "OVERSPEED",
        json!({"limit_kmh": 50, "min_duration_s": 0}),
        600,
    )];
    let mut e = Evaluator::default();
    e.restore(
        1,
        DeviceId(1),
        "",
        Some((AlertId("before-restart".into()), T0)),
        None,
    );
    let mut out = Vec::new();
    e.observe(&r, &sample(5, 70.0), &mut out);
    assert!(out.is_empty(), "still open: no second alert");
    e.observe(&r, &sample(6, 30.0), &mut out);
    assert!(matches!(&out[..], [Transition::Clear { id, .. }] if id.as_str() == "before-restart"));
    // Cleared by a user: the next occurrence within the cooldown stays quiet.
    let mut e = Evaluator::default();
    e.restore(1, DeviceId(1), "", None, Some(T0));
    let mut out = Vec::new();
    e.observe(&r, &sample(100, 70.0), &mut out);
    assert!(out.is_empty());
}

fn node_sample(at_s: i64, cpu: f64, status: crate::entity::NodeStatus) -> Sample {
    Sample {
        kind: crate::entity::EntityKind::EdgeNode,
        device_id: DeviceId(9),
        vehicle_id: None,
        at_ms: T0 + at_s * 1000,
        received_ms: T0 + at_s * 1000,
        health: Some(crate::entity::Health {
            status,
            cpu_usage: cpu,
            memory_usage: 10.0,
            network_status: None,
            energy_consumption: None,
        }),
        ..Sample::default()
    }
}

#[test]
fn node_cpu_high_takes_the_mean_over_its_window_and_only_edge_nodes() {
    use crate::entity::NodeStatus::Active;
    let r = [
        rule(
            1,
            "NODE_CPU_HIGH",
            json!({"above_pct": 90, "window_s": 30}),
            0,
        ),
        rule(2, "OVERSPEED", json!({"limit_kmh": 1}), 0),
    ];
    // One spike does not raise; a mean above 90 over 30 s does; it clears at 85.
    let cpus = [
        (0, 50.0),
        (10, 99.0),
        (20, 95.0),
        (30, 97.0),
        (40, 96.0),
        (50, 70.0),
        (60, 60.0),
        (70, 60.0),
    ];
    let samples: Vec<_> = cpus
        .iter()
        .map(|&(t, c)| node_sample(t, c, Active))
        .collect();
    let (_, out) = run(&r, &samples);
    assert_eq!(steps(&out), [("raise", 40), ("clear", 60)]);
    let Transition::Raise(a) = &out[0] else {
        panic!()
    };
    assert_eq!(a.kind, "NODE_CPU_HIGH");
    // A tracker's sample never reaches an edge node rule.
    let (_, out) = run(&r[..1], &[sample(0, 120.0)]);
    assert!(out.is_empty());
}

#[test]
fn node_fault_and_offline_follow_the_status_events() {
    use crate::entity::NodeStatus::{Active, Fault, Offline};
    let r = [
        rule(1, "NODE_OFFLINE", json!({}), 0),
        rule(2, "NODE_FAULT", json!({}), 0),
    ];
    let mut e = Evaluator::default();
    let mut out = Vec::new();
    let s = node_sample(0, 1.0, Active);
    let at =
        |t: i64| chrono::DateTime::<chrono::Utc>::from_timestamp_millis(T0 + t * 1000).unwrap();
    let changed = |t, from, to| EntityEvent::StatusChanged {
        at: at(t),
        from,
        to,
    };
    e.observe_events(&r, &s, &[changed(1, Active, Offline)], &mut out);
    e.observe_events(&r, &s, &[changed(5, Offline, Fault)], &mut out);
    e.observe(&r, &node_sample(9, 1.0, Active), &mut out);
    assert_eq!(
        steps(&out),
        [("raise", 1), ("clear", 5), ("raise", 5), ("clear", 9)]
    );
}

#[test]
fn detection_bursts_count_one_type_in_one_zone() {
    let r = [rule(
        1,
        "DETECTION_BURST",
        json!({"object_type": "person", "zone": "gate", "max_count": 5, "window_s": 10, "hold_s": 60}),
        0,
    )];
    let burst = |t: i64, n: usize, kind: &str, zone: &str| Sample {
        kind: crate::entity::EntityKind::EdgeNode,
        device_id: DeviceId(9),
        at_ms: T0 + t * 1000,
        received_ms: T0 + t * 1000,
        detections: vec![(kind.to_owned(), Some(zone.to_owned())); n],
        ..Sample::default()
    };
    let samples = [
        burst(0, 3, "person", "gate"),
        burst(1, 9, "car", "gate"),
        burst(2, 9, "person", "yard"),
        burst(20, 3, "person", "gate"),
        burst(21, 3, "person", "gate"),
        burst(22, 1, "person", "gate"),
    ];
    let (_, out) = run(&r, &samples);
    assert_eq!(steps(&out), [("raise", 21), ("repeat", 22)]);
}

#[test]
fn nodes_and_robots_known_from_before_a_restart_go_offline_by_their_own_rules() {
    let r = [
        rule(1, "DEVICE_OFFLINE", json!({"after_s": 600}), 0),
        rule(2, "NODE_OFFLINE", json!({"after_s": 90}), 0),
        rule(3, "ROBOT_OFFLINE", json!({"after_s": 60}), 0),
    ];
    let mut e = Evaluator::default();
    e.known(
        DeviceId(10),
        EntityKind::EdgeNode,
        (None, None),
        Some(T0),
        T0,
    );
    e.known(DeviceId(11), EntityKind::Robot, (None, None), Some(T0), T0);
    e.known(
        DeviceId(12),
        EntityKind::Tracker,
        (None, None),
        Some(T0),
        T0,
    );
    let mut out = Vec::new();
    e.tick(&r, T0 + 50_000, &mut out);
    assert!(out.is_empty());
    e.tick(&r, T0 + 700_000, &mut out);
    let mut raised: Vec<(i64, &str)> = out
        .iter()
        .filter_map(|t| match t {
            Transition::Raise(a) => Some((a.device_id.0, a.kind)),
            _ => None,
        })
        .collect();
    raised.sort_unstable();
    assert_eq!(
        raised,
        [
            (10, "NODE_OFFLINE"),
            (11, "ROBOT_OFFLINE"),
            (12, "DEVICE_OFFLINE")
        ],
        "each by its kind's rule, none by another kind's"
    );
    // The node's heartbeat clears its alert; once heard, its own actor says when it is
    // offline, and the server's clock raises nothing more for it.
    let mut out = Vec::new();
    let beat = Sample {
        kind: EntityKind::EdgeNode,
        device_id: DeviceId(10),
        at_ms: T0 + 710_000,
        received_ms: T0 + 710_000,
        health: Some(crate::entity::Health {
            status: crate::entity::NodeStatus::Active,
            cpu_usage: 5.0,
            memory_usage: 10.0,
            network_status: None,
            energy_consumption: None,
        }),
        ..Sample::default()
    };
    e.observe(&r, &beat, &mut out);
    assert!(matches!(&out[..], [Transition::Clear { .. }]), "{out:?}");
    let mut out = Vec::new();
    e.tick(&r, T0 + 2_000_000, &mut out);
    assert!(
        out.iter()
            .all(|t| !matches!(t, Transition::Raise(a) if a.device_id == DeviceId(10))),
        "{out:?}"
    );
}
