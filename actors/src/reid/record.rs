//! What a tracking session records of its people, as pure logic: each fusion step → the
//! identities' rows (first/last seen, cameras, distance), trajectory points downsampled in
//! time, each camera's continuous sightings, and zone entries and exits with dwell.

use std::collections::{BTreeSet, HashMap};

use urbanstream_schema::models::{
    AppearanceRow, PeopleRows, PersonUpsert, SightingRow, TrajectoryPointRow, ZoneEventRow,
};
use urbanstream_vision::fusion::FusionEvent;

use super::TrackingUpdate;

/// A zone on the floor plan: a polygon in metres.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorZone {
    pub id: i64,
    pub name: String,
    pub polygon: Vec<(f64, f64)>,
}

impl FloorZone {
    /// Whether `(x, y)` is inside (even-odd rule; a point on an edge may fall either way).
    pub fn contains(&self, x: f64, y: f64) -> bool {
        urbanstream_vision::geometry::polygon_contains(&self.polygon, x, y)
    }
}

/// How densely a session is recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordSettings {
    /// At most one trajectory point per identity per this many seconds.
    pub point_every_s: f64,
    /// A camera that has not seen an identity for longer than this ends its sighting.
    pub sighting_gap_s: f64,
    /// How long an identity that left is remembered, should it be recognised again.
    pub remember_s: f64,
    /// Whether each identity's learnt appearance vector is recorded (for search by
    /// appearance); off, only positions and anonymous ids are.
    pub appearance: bool,
}

impl Default for RecordSettings {
    fn default() -> Self {
        Self {
            point_every_s: 0.5,
            sighting_gap_s: 1.0,
            remember_s: 600.0,
            appearance: false,
        }
    }
}

/// A person as the session knows them now.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LivePerson {
    pub global_id: u64,
    pub x_m: f64,
    pub y_m: f64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Cameras that see them now.
    pub cameras: Vec<u32>,
    /// Zones they are in, with when they entered.
    pub zones: Vec<(i64, i64)>,
    pub distance_m: f64,
    /// Their latest trajectory points, oldest first (at most `RECENT_POINTS`).
    pub recent: Vec<(i64, f64, f64)>,
}

/// A unit vector as JSON, four decimals a component.
fn vector_json(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{:.4}", x)).collect();
    format!("[{}]", parts.join(","))
}

/// Points of the recent path kept per live person.
pub const RECENT_POINTS: usize = 20;

#[derive(Debug, Clone)]
struct Person {
    first_ms: i64,
    last_ms: i64,
    pos: (f64, f64),
    last_point: Option<(i64, f64, f64)>,
    distance_m: f64,
    cameras_ever: BTreeSet<u32>,
    cameras_now: Vec<u32>,
    /// Open sightings: camera → (first, last).
    sightings: HashMap<u32, (i64, i64)>,
    /// Zones inside: zone → entered.
    inside: HashMap<i64, i64>,
    recent: std::collections::VecDeque<(i64, f64, f64)>,
    merged_into: Option<u64>,
    dirty: bool,
    /// The learnt appearance, and whether it changed since it was last written.
    appearance: Option<std::sync::Arc<[f32]>>,
    appearance_dirty: bool,
    /// When it left every view (then it is only remembered).
    left_ms: Option<i64>,
}

/// One session's recording state.
#[derive(Debug)]
pub struct PeopleLog {
    session: i64,
    settings: RecordSettings,
    zones: Vec<FloorZone>,
    people: HashMap<u64, Person>,
    out: PeopleRows,
}

impl PeopleLog {
    pub fn new(session: i64, settings: RecordSettings, zones: Vec<FloorZone>) -> Self {
        Self {
            session,
            settings,
            zones,
            people: HashMap::new(),
            out: PeopleRows::default(),
        }
    }

    pub fn session(&self) -> i64 {
        self.session
    }

    /// Zones changed: people are judged against the new set from the next step (leaving a
    /// removed zone is recorded now).
    pub fn set_zones(&mut self, zones: Vec<FloorZone>, now_ms: i64) {
        let kept: BTreeSet<i64> = zones.iter().map(|z| z.id).collect();
        let mut exits = Vec::new();
        for (&gid, p) in self.people.iter_mut() {
            let gone: Vec<i64> = p
                .inside
                .keys()
                .copied()
                .filter(|z| !kept.contains(z))
                .collect();
            for z in gone {
                if let Some(entered) = p.inside.remove(&z) {
                    exits.push(exit_row(self.session, gid, z, entered, now_ms.max(entered)));
                }
            }
        }
        self.out.zone_events.extend(exits);
        self.zones = zones;
    }

    /// Takes one fusion step; returns the zone entries and exits it caused.
    pub fn observe(&mut self, u: &TrackingUpdate) -> Vec<ZoneEventRow> {
        let t = (u.time_s * 1000.0).round() as i64;
        let mut zone_events = Vec::new();
        for e in &u.events {
            match *e {
                FusionEvent::Merged { from, into }
                | FusionEvent::Reentered {
                    old: into,
                    new: from,
                } => {
                    self.absorb(from, into, &mut zone_events);
                }
                FusionEvent::Left { identity } => self.leave(identity, &mut zone_events),
                FusionEvent::Appeared { .. } | FusionEvent::Split { .. } => {}
            }
        }
        for i in &u.identities {
            let session = self.session;
            let p = self.people.entry(i.global_id).or_insert_with(|| Person {
                first_ms: t,
                last_ms: t,
                pos: (i.x_m, i.y_m),
                last_point: None,
                distance_m: 0.0,
                cameras_ever: BTreeSet::new(),
                cameras_now: Vec::new(),
                sightings: HashMap::new(),
                inside: HashMap::new(),
                recent: std::collections::VecDeque::new(),
                merged_into: None,
                dirty: true,
                appearance: None,
                appearance_dirty: false,
                left_ms: None,
            });
            if t < p.last_ms {
                continue;
            }
            if self.settings.appearance {
                if let Some(a) = i
                    .appearance
                    .as_ref()
                    .filter(|a| p.appearance.as_ref() != Some(a))
                {
                    p.appearance = Some(a.clone());
                    p.appearance_dirty = true;
                }
            }
            p.left_ms = None;
            p.dirty = true;
            p.pos = (i.x_m, i.y_m);
            p.cameras_now = i.cameras.iter().map(|&(c, _)| c).collect();
            p.cameras_now.sort_unstable();
            p.cameras_now.dedup();
            if p.cameras_now.is_empty() {
                // Coasting unseen: a prediction, not a place anyone saw them at; neither the
                // trajectory nor the zones take it.
                continue;
            }
            p.last_ms = t;
            let gap_ms = (self.settings.sighting_gap_s * 1000.0) as i64;
            for &c in &p.cameras_now {
                p.cameras_ever.insert(c);
                let s = p.sightings.entry(c).or_insert((t, t));
                if t - s.1 > gap_ms {
                    self.out
                        .sightings
                        .push(sighting_row(session, i.global_id, c, *s));
                    *s = (t, t);
                } else {
                    s.1 = t;
                }
            }
            let every_ms = (self.settings.point_every_s * 1000.0) as i64;
            if p.last_point.is_none_or(|(lt, _, _)| t - lt >= every_ms) {
                if let Some((_, lx, ly)) = p.last_point {
                    p.distance_m += (i.x_m - lx).hypot(i.y_m - ly);
                }
                p.last_point = Some((t, i.x_m, i.y_m));
                p.recent.push_back((t, i.x_m, i.y_m));
                if p.recent.len() > RECENT_POINTS {
                    p.recent.pop_front();
                }
                self.out.points.push(TrajectoryPointRow {
                    session_id: session,
                    global_id: i.global_id as i64,
                    time_ms: t,
                    x_m: i.x_m,
                    y_m: i.y_m,
                    cameras: p.cameras_now.len() as i32,
                });
            }
            for z in &self.zones {
                let now_in = z.contains(i.x_m, i.y_m);
                match (p.inside.get(&z.id).copied(), now_in) {
                    (None, true) => {
                        p.inside.insert(z.id, t);
                        zone_events.push(ZoneEventRow {
                            session_id: session,
                            global_id: i.global_id as i64,
                            zone_id: z.id,
                            kind: "enter".into(),
                            time_ms: t,
                            dwell_s: None,
                        });
                    }
                    (Some(entered), false) => {
                        p.inside.remove(&z.id);
                        zone_events.push(exit_row(session, i.global_id, z.id, entered, t));
                    }
                    _ => {}
                }
            }
        }
        self.forget(t);
        self.out.zone_events.extend(zone_events.iter().cloned());
        zone_events
    }

    /// `from` turned out to be `into`: its sightings and zones end, its row says so, and
    /// `into` carries on.
    fn absorb(&mut self, from: u64, into: u64, zone_events: &mut Vec<ZoneEventRow>) {
        self.leave(from, zone_events);
        if let Some(p) = self.people.remove(&from) {
            let (first, ever, dist) = (p.first_ms, p.cameras_ever.clone(), p.distance_m);
            self.out.identities.push(self.upsert(
                from,
                &Person {
                    merged_into: Some(into),
                    ..p
                },
            ));
            if let Some(q) = self.people.get_mut(&into) {
                q.first_ms = q.first_ms.min(first);
                q.cameras_ever.extend(ever);
                q.distance_m = q.distance_m.max(dist);
                q.dirty = true;
                q.left_ms = None;
            }
        }
    }

    /// An identity left every view: its sightings close, it exits its zones (at when it was
    /// last seen); it is remembered for a while in case it is recognised again.
    fn leave(&mut self, gid: u64, zone_events: &mut Vec<ZoneEventRow>) {
        let session = self.session;
        let Some(p) = self.people.get_mut(&gid) else {
            return;
        };
        for (c, s) in p.sightings.drain() {
            self.out.sightings.push(sighting_row(session, gid, c, s));
        }
        let at = p.last_ms;
        for (z, entered) in p.inside.drain() {
            zone_events.push(exit_row(session, gid, z, entered, at.max(entered)));
        }
        p.cameras_now.clear();
        p.dirty = true;
        p.left_ms = Some(at);
    }

    fn forget(&mut self, t: i64) {
        let keep_ms = (self.settings.remember_s * 1000.0) as i64;
        let mut gone = Vec::new();
        for (&gid, p) in &self.people {
            if p.left_ms.is_some_and(|l| t - l > keep_ms) && !p.dirty {
                gone.push(gid);
            }
        }
        for gid in gone {
            self.people.remove(&gid);
        }
    }

    fn upsert(&self, gid: u64, p: &Person) -> PersonUpsert {
        PersonUpsert {
            session_id: self.session,
            global_id: gid as i64,
            first_seen_ms: p.first_ms,
            last_seen_ms: p.last_ms,
            cameras: serde_json::to_string(&p.cameras_ever).unwrap_or_else(|_| "[]".into()),
            distance_m: p.distance_m,
            merged_into: p.merged_into.map(|g| g as i64),
        }
    }

    /// The rows gathered since the last call: changed identities, new points, sightings
    /// (open ones with their end so far) and zone events.
    pub fn take_rows(&mut self) -> PeopleRows {
        let mut rows = std::mem::take(&mut self.out);
        let session = self.session;
        let mut changed: Vec<u64> = self
            .people
            .iter()
            .filter(|(_, p)| p.dirty)
            .map(|(&g, _)| g)
            .collect();
        changed.sort_unstable();
        for gid in changed {
            if let Some(p) = self.people.get(&gid) {
                rows.identities.push(self.upsert(gid, p));
                for (&c, &s) in &p.sightings {
                    rows.sightings.push(sighting_row(session, gid, c, s));
                }
                if let Some(a) = p.appearance.as_ref().filter(|_| p.appearance_dirty) {
                    rows.appearances.push(AppearanceRow {
                        session_id: session,
                        global_id: gid as i64,
                        vector: vector_json(a),
                        updated_ms: p.last_ms,
                    });
                }
            }
            if let Some(p) = self.people.get_mut(&gid) {
                p.dirty = false;
                p.appearance_dirty = false;
            }
        }
        rows
    }

    /// Everyone still in view leaves (the session stops): the last rows.
    pub fn close(&mut self) -> (PeopleRows, Vec<ZoneEventRow>) {
        let live: Vec<u64> = self
            .people
            .iter()
            .filter(|(_, p)| p.left_ms.is_none())
            .map(|(&g, _)| g)
            .collect();
        let mut events = Vec::new();
        for gid in live {
            self.leave(gid, &mut events);
        }
        self.out.zone_events.extend(events.iter().cloned());
        (self.take_rows(), events)
    }

    /// People in view now, by id.
    pub fn live(&self) -> Vec<LivePerson> {
        let mut v: Vec<LivePerson> = self
            .people
            .iter()
            .filter(|(_, p)| p.left_ms.is_none() && p.merged_into.is_none())
            .map(|(&gid, p)| {
                let mut zones: Vec<(i64, i64)> = p.inside.iter().map(|(&z, &e)| (z, e)).collect();
                zones.sort_unstable();
                LivePerson {
                    global_id: gid,
                    x_m: p.pos.0,
                    y_m: p.pos.1,
                    first_seen_ms: p.first_ms,
                    last_seen_ms: p.last_ms,
                    cameras: p.cameras_now.clone(),
                    zones,
                    distance_m: p.distance_m,
                    recent: p.recent.iter().copied().collect(),
                }
            })
            .collect();
        v.sort_by_key(|p| p.global_id);
        v
    }
}

fn sighting_row(session: i64, gid: u64, camera: u32, (first, last): (i64, i64)) -> SightingRow {
    SightingRow {
        session_id: session,
        global_id: gid as i64,
        camera: camera as i32,
        first_ms: first,
        last_ms: last,
    }
}

fn exit_row(session: i64, gid: u64, zone: i64, entered: i64, at: i64) -> ZoneEventRow {
    ZoneEventRow {
        session_id: session,
        global_id: gid as i64,
        zone_id: zone,
        kind: "exit".into(),
        time_ms: at,
        dwell_s: Some((at - entered) as f64 / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reid::IdentityUpdate;

    fn step(
        t: f64,
        people: &[(u64, f64, f64, &[u32])],
        events: Vec<FusionEvent>,
    ) -> TrackingUpdate {
        TrackingUpdate {
            time_s: t,
            identities: people
                .iter()
                .map(|&(g, x, y, cams)| IdentityUpdate {
                    global_id: g,
                    x_m: x,
                    y_m: y,
                    vx_mps: 0.0,
                    vy_mps: 0.0,
                    cameras: cams.iter().map(|&c| (c, g)).collect(),
                    appearance: Some(std::sync::Arc::from(vec![g as f32, 1.0])),
                })
                .collect(),
            events,
        }
    }

    fn door() -> FloorZone {
        FloorZone {
            id: 7,
            name: "door".into(),
            polygon: vec![(9.0, 0.0), (11.0, 0.0), (11.0, 14.0), (9.0, 14.0)],
        }
    }

    #[test]
    fn polygons_hold_what_is_inside() {
        let z = FloorZone {
            id: 1,
            name: "L".into(),
            polygon: vec![
                (0.0, 0.0),
                (4.0, 0.0),
                (4.0, 1.0),
                (1.0, 1.0),
                (1.0, 4.0),
                (0.0, 4.0),
            ],
        };
        assert!(z.contains(0.5, 3.0));
        assert!(z.contains(3.0, 0.5));
        assert!(!z.contains(3.0, 3.0), "the L's notch");
        assert!(!z.contains(-0.1, 0.5));
    }

    #[test]
    fn a_walk_through_a_zone_records_points_sightings_and_one_visit() {
        let mut log = PeopleLog::new(3, RecordSettings::default(), vec![door()]);
        let mut events = Vec::new();
        // 10 steps a second for 8 s, walking +0.8 m/s from x = 6; camera 1 joins at 2 s.
        for k in 0..80 {
            let t = 100.0 + k as f64 * 0.1;
            let cams: &[u32] = if k < 20 { &[0] } else { &[0, 1] };
            events.extend(log.observe(&step(t, &[(1, 6.0 + 0.08 * k as f64, 6.0, cams)], vec![])));
        }
        let rows = log.take_rows();
        assert_eq!(rows.points.len(), 16, "one point per 0.5 s");
        assert!(rows
            .points
            .iter()
            .all(|p| p.session_id == 3 && p.global_id == 1));
        assert_eq!(rows.identities.len(), 1);
        let me = &rows.identities[0];
        assert_eq!((me.first_seen_ms, me.last_seen_ms), (100_000, 107_900));
        assert_eq!(me.cameras, "[0,1]");
        assert!((me.distance_m - 6.0).abs() < 1e-6, "{}", me.distance_m);
        let mut open: Vec<_> = rows
            .sightings
            .iter()
            .map(|s| (s.camera, s.first_ms, s.last_ms))
            .collect();
        open.sort_unstable();
        assert_eq!(open, vec![(0, 100_000, 107_900), (1, 102_000, 107_900)]);
        // In at x ≥ 9 (k = 38), out at x > 11 (k = 63): 2.5 s inside.
        assert_eq!(events.len(), 2);
        assert_eq!(
            (events[0].kind.as_str(), events[0].time_ms),
            ("enter", 103_800)
        );
        assert_eq!(
            (events[1].kind.as_str(), events[1].time_ms),
            ("exit", 106_300)
        );
        assert_eq!(events[1].dwell_s, Some(2.5));
        assert_eq!(
            rows.zone_events, events,
            "zone events are stored as announced"
        );
        assert!(log.take_rows().is_empty(), "nothing new");
    }

    #[test]
    fn leaving_closes_sightings_and_zones_and_a_merge_is_recorded() {
        let mut log = PeopleLog::new(1, RecordSettings::default(), vec![door()]);
        log.observe(&step(
            10.0,
            &[(1, 10.0, 5.0, &[0]), (2, 10.5, 5.0, &[1])],
            vec![],
        ));
        log.observe(&step(
            10.1,
            &[(1, 10.0, 5.1, &[0]), (2, 10.5, 5.1, &[1])],
            vec![],
        ));
        // Unseen (coasting): neither a point nor a zone change.
        log.observe(&step(10.2, &[(1, 20.0, 5.2, &[])], vec![]));
        let first = log.take_rows();
        assert_eq!(first.zone_events.len(), 2, "both entered");
        assert_eq!(first.points.len(), 2);
        // 2 turns out to be 1; then 1 leaves every view.
        let ev = log.observe(&step(
            10.3,
            &[],
            vec![
                FusionEvent::Merged { from: 2, into: 1 },
                FusionEvent::Left { identity: 1 },
            ],
        ));
        assert_eq!(ev.len(), 2, "both exit the door: {ev:?}");
        assert!(ev.iter().all(|e| e.kind == "exit"));
        assert_eq!(
            ev.iter().find(|e| e.global_id == 1).unwrap().time_ms,
            10_100,
            "at last seen"
        );
        let rows = log.take_rows();
        let two = rows.identities.iter().find(|i| i.global_id == 2).unwrap();
        assert_eq!(two.merged_into, Some(1));
        let one = rows.identities.iter().find(|i| i.global_id == 1).unwrap();
        assert_eq!(one.cameras, "[0,1]", "the merge brings camera 1");
        assert!(log.live().is_empty());
        // Recognised again: it carries on under its id, its first sighting kept.
        log.observe(&step(12.0, &[(1, 3.0, 3.0, &[0])], vec![]));
        let live = log.live();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].first_seen_ms, 10_000);
        let (rows, exits) = log.close();
        assert!(exits.is_empty(), "not in a zone");
        assert!(rows.sightings.iter().any(|s| s.first_ms == 12_000));
        assert!(log.live().is_empty());
    }

    #[test]
    fn removing_a_zone_ends_the_visits_in_it() {
        let mut log = PeopleLog::new(1, RecordSettings::default(), vec![door()]);
        log.observe(&step(1.0, &[(4, 10.0, 1.0, &[0])], vec![]));
        log.take_rows();
        log.set_zones(vec![], 1_500);
        let rows = log.take_rows();
        assert_eq!(rows.zone_events.len(), 1);
        assert_eq!(rows.zone_events[0].dwell_s, Some(0.5));
    }

    #[test]
    fn appearance_is_recorded_only_when_asked_and_only_when_it_changes() {
        let mut off = PeopleLog::new(1, RecordSettings::default(), vec![]);
        off.observe(&step(1.0, &[(4, 10.0, 1.0, &[0])], vec![]));
        assert!(off.take_rows().appearances.is_empty());

        let settings = RecordSettings {
            appearance: true,
            ..RecordSettings::default()
        };
        let mut on = PeopleLog::new(1, settings, vec![]);
        on.observe(&step(1.0, &[(4, 10.0, 1.0, &[0])], vec![]));
        let rows = on.take_rows();
        assert_eq!(rows.appearances.len(), 1);
        assert_eq!(rows.appearances[0].vector, "[4.0000,1.0000]");
        assert_eq!(rows.appearances[0].updated_ms, 1_000);
        // The same vector again: nothing new to write.
        on.observe(&step(1.5, &[(4, 10.2, 1.0, &[0])], vec![]));
        assert!(on.take_rows().appearances.is_empty());
    }
}
