//! Cross-camera fusion: per-camera tracklets → global person identities on the floor.
//!
//! Each step takes every camera's tracked people at one instant (foot points already on the
//! floor). A tracklet, once linked to an identity, feeds that identity's floor Kalman filter
//! until it disagrees for long enough (then it is split off and linked anew). Unlinked tracklets
//! are assigned camera by camera to the identities not yet seen by that camera at this instant,
//! gated on the floor and by appearance; none near → a new identity. Corrections follow the
//! evidence: two identities that stand together, never both seen by one camera, merge; a new
//! identity that looks like one that left all views earlier takes the old identity's id
//! (re-entry). A camera whose floor positions sit consistently apart from the others' has that
//! offset estimated and removed (a calibration a few tens of centimetres off).

use crate::kalman::FloorKalman;
use crate::tracker::{appearance_cost, normalise};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

pub type CameraId = u32;
pub type GlobalId = u64;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FusionConfig {
    /// Smallest and largest floor gate between a tracklet and an identity, metres.
    pub gate_min_m: f64,
    pub gate_max_m: f64,
    /// An identity not seen for this long leaves the live set (it may still re-enter).
    pub coast_s: f64,
    /// A linked tracklet this far from its identity, for `split_after_s`, is split off.
    pub split_distance_m: f64,
    pub split_after_s: f64,
    /// Two identities closer than this, for `merge_after_s`, seen by disjoint cameras, merge.
    pub merge_distance_m: f64,
    pub merge_after_s: f64,
    /// Appearance cost (half the cosine distance) above which two galleries are different people.
    pub appearance_veto: f64,
    /// Appearance cost below which a new identity is the re-entry of a lost one.
    pub reentry_cost: f64,
    /// How long a new identity collects appearance before re-entry is decided, seconds.
    pub reentry_after_s: f64,
    /// Without appearance, an identity lost at most this long may be taken up again by a new
    /// one it could have walked to, when no other lost identity could have, seconds.
    pub reentry_motion_s: f64,
    /// Lost identities are forgotten after this long, seconds.
    pub forget_s: f64,
    /// Acceleration noise of the floor filter, (m/s²)².
    pub accel_var: f64,
    /// Top walking speed used to judge whether a re-entry is physically possible, m/s.
    pub max_speed_mps: f64,
    /// Estimate and remove a constant floor offset per camera.
    pub camera_offsets: bool,
    /// Pairs of simultaneous observations needed before a camera's offset is used.
    pub offset_min_samples: usize,
}

impl Default for FusionConfig {
    fn default() -> Self {
        Self {
            gate_min_m: 0.9,
            gate_max_m: 2.0,
            coast_s: 2.0,
            split_distance_m: 1.0,
            split_after_s: 0.5,
            merge_distance_m: 0.7,
            merge_after_s: 1.0,
            appearance_veto: 0.3,
            reentry_cost: 0.15,
            reentry_after_s: 1.0,
            reentry_motion_s: 3.0,
            forget_s: 900.0,
            accel_var: 2.0,
            max_speed_mps: 2.5,
            camera_offsets: true,
            offset_min_samples: 40,
        }
    }
}

impl FusionConfig {
    pub fn validate(&self) -> Result<(), String> {
        let pos = [
            (self.gate_min_m, "gate_min_m"),
            (self.gate_max_m, "gate_max_m"),
            (self.split_distance_m, "split_distance_m"),
            (self.merge_distance_m, "merge_distance_m"),
            (self.accel_var, "accel_var"),
            (self.max_speed_mps, "max_speed_mps"),
        ];
        for (v, n) in pos {
            if !(v > 0.0 && v.is_finite()) {
                return Err(format!("{n} must be a positive number, got {v}"));
            }
        }
        for (v, n) in [
            (self.coast_s, "coast_s"),
            (self.split_after_s, "split_after_s"),
            (self.merge_after_s, "merge_after_s"),
            (self.reentry_after_s, "reentry_after_s"),
            (self.reentry_motion_s, "reentry_motion_s"),
            (self.forget_s, "forget_s"),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(format!("{n} must be zero or more seconds, got {v}"));
            }
        }
        if self.gate_min_m > self.gate_max_m {
            return Err("gate_min_m must not exceed gate_max_m".into());
        }
        Ok(())
    }
}

/// One camera's view of one tracked person at the step's instant.
#[derive(Debug, Clone)]
pub struct Observation {
    pub camera: CameraId,
    pub track: u64,
    /// Foot point on the floor, metres, as the camera's calibration maps it.
    pub floor: (f64, f64),
    /// Variance of that floor point, m².
    pub floor_var: f64,
    /// L2-normalised appearance, where known.
    pub embedding: Option<Vec<f32>>,
    /// Whether the box stands clear of others (its appearance is worth learning).
    pub clear: bool,
}

/// What a step decided for one observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    pub camera: CameraId,
    pub track: u64,
    pub identity: GlobalId,
}

/// Changes in the set of identities, in the order they happened.
#[derive(Debug, Clone, PartialEq)]
pub enum FusionEvent {
    Appeared {
        identity: GlobalId,
    },
    /// `from` turned out to be `into`; everything said about `from` belongs to `into`.
    Merged {
        from: GlobalId,
        into: GlobalId,
    },
    /// A tracklet was split off `from` and its observations since `since_s` belong to `to`.
    Split {
        camera: CameraId,
        track: u64,
        from: GlobalId,
        to: GlobalId,
        since_s: f64,
    },
    Left {
        identity: GlobalId,
    },
    /// A lost identity was recognised again: `new` is `old`.
    Reentered {
        old: GlobalId,
        new: GlobalId,
    },
}

/// An identity's state after a step.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityState {
    pub identity: GlobalId,
    pub position: (f64, f64),
    pub velocity: (f64, f64),
    /// `(camera, track)` pairs that saw it at this step.
    pub seen_by: Vec<(CameraId, u64)>,
}

#[derive(Debug, Clone)]
pub struct StepOutput {
    pub assignments: Vec<Assignment>,
    pub identities: Vec<IdentityState>,
    pub events: Vec<FusionEvent>,
}

#[derive(Debug, Clone)]
struct Gallery {
    mean: Vec<f32>,
    samples: u32,
}

impl Gallery {
    fn add(&mut self, e: &[f32]) {
        let w = 1.0 / (self.samples as f32 + 1.0).min(20.0);
        self.mean
            .iter_mut()
            .zip(e)
            .for_each(|(a, b)| *a = (1.0 - w) * *a + w * b);
        normalise(&mut self.mean);
        self.samples += 1;
    }
    fn merge(&mut self, other: &Gallery) {
        let (a, b) = (self.samples as f32, other.samples as f32);
        if a + b <= 0.0 {
            return;
        }
        self.mean
            .iter_mut()
            .zip(&other.mean)
            .for_each(|(x, y)| *x = (a * *x + b * y) / (a + b));
        normalise(&mut self.mean);
        self.samples += other.samples;
    }
}

#[derive(Debug, Clone)]
struct Identity {
    id: GlobalId,
    kf: FloorKalman,
    first_seen: f64,
    /// Where it was first seen.
    first_pos: (f64, f64),
    last_seen: f64,
    last_time: f64,
    gallery: Option<Gallery>,
    /// Every sample, occluded or not: weaker evidence, for when clear views are too few.
    any_gallery: Option<Gallery>,
    lost: bool,
    /// Whether re-entry has been decided for this identity.
    settled: bool,
    /// Cameras that saw it at the current step.
    cams_now: BTreeSet<CameraId>,
}

#[derive(Debug, Clone)]
struct Link {
    identity: GlobalId,
    strike_since: Option<f64>,
}

#[derive(Debug, Default, Clone)]
struct OffsetEstimator {
    residuals: VecDeque<(f64, f64)>,
    offset: (f64, f64),
}

const OFFSET_WINDOW: usize = 400;

/// Two identities seen this far apart at one instant are two people, whatever later happens
/// (well beyond floor noise and a calibration tens of centimetres off).
const FAR_APART_M: f64 = 2.5;

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The fusion core: one instance per site, fed in time order.
#[derive(Debug)]
pub struct Fusion {
    cfg: FusionConfig,
    identities: BTreeMap<GlobalId, Identity>,
    links: HashMap<(CameraId, u64), Link>,
    next_id: GlobalId,
    /// Merged and re-entered identities point at the identity they became.
    parent: HashMap<GlobalId, GlobalId>,
    /// Pairs of identities one camera saw as two people, and when it last did.
    apart: ApartSince,
    /// Pairs of identities once seen at the same instant metres apart: never one person.
    far_apart: ApartSince,
    close_since: HashMap<(GlobalId, GlobalId), f64>,
    offsets: BTreeMap<CameraId, OffsetEstimator>,
    camera_centre: BTreeMap<CameraId, Vec<f32>>,
}

#[derive(Debug, Default)]
struct ApartSince(HashMap<(GlobalId, GlobalId), f64>);

fn pair(a: GlobalId, b: GlobalId) -> (GlobalId, GlobalId) {
    (a.min(b), a.max(b))
}

impl ApartSince {
    fn insert(&mut self, a: GlobalId, b: GlobalId, t: f64) {
        let e = self.0.entry(pair(a, b)).or_insert(t);
        *e = e.max(t);
    }
    /// When one camera last saw them as two people.
    fn last(&self, a: GlobalId, b: GlobalId) -> Option<f64> {
        self.0.get(&pair(a, b)).copied()
    }
    /// After `from` merged into `into`, what kept `from` apart keeps `into` apart.
    fn rename(&mut self, from: GlobalId, into: GlobalId) {
        let moved: Vec<_> = self
            .0
            .iter()
            .filter(|((a, b), _)| *a == from || *b == from)
            .map(|(k, v)| (*k, *v))
            .collect();
        for ((a, b), t) in moved {
            self.0.remove(&(a, b));
            let other = if a == from { b } else { a };
            if other != into {
                self.insert(other, into, t);
            }
        }
    }
    fn forget(&mut self, id: GlobalId) {
        self.0.retain(|(a, b), _| *a != id && *b != id);
    }
}

impl Fusion {
    pub fn new(cfg: FusionConfig) -> Self {
        Self {
            cfg,
            identities: BTreeMap::new(),
            links: HashMap::new(),
            next_id: 1,
            parent: HashMap::new(),
            apart: ApartSince::default(),
            far_apart: ApartSince::default(),
            close_since: HashMap::new(),
            offsets: BTreeMap::new(),
            camera_centre: BTreeMap::new(),
        }
    }

    /// A camera's mean appearance vector, removed from its embeddings before they are compared
    /// across cameras (cameras tint what they see; the tint is not the person).
    pub fn set_camera_centre(&mut self, camera: CameraId, centre: Vec<f32>) {
        self.camera_centre.insert(camera, centre);
    }

    /// The identity an id finally became (after merges and re-entries).
    pub fn resolve(&self, mut id: GlobalId) -> GlobalId {
        let mut hops = 0;
        while let Some(&p) = self.parent.get(&id) {
            id = p;
            hops += 1;
            if hops > 10_000 {
                break;
            }
        }
        id
    }

    /// The estimated floor offset of a camera (what is subtracted from its points), metres.
    pub fn camera_offset(&self, camera: CameraId) -> (f64, f64) {
        self.offsets.get(&camera).map_or((0.0, 0.0), |o| o.offset)
    }

    /// Identities in the live set.
    /// An identity's learnt appearance (unit length): from its clear views once it has a few,
    /// else from every view; `None` when no camera sent appearance for it.
    pub fn appearance(&self, id: GlobalId) -> Option<&[f32]> {
        let i = self.identities.get(&self.resolve(id))?;
        i.gallery
            .as_ref()
            .filter(|g| g.samples >= 3)
            .or(i.any_gallery.as_ref())
            .map(|g| g.mean.as_slice())
    }

    pub fn active(&self) -> usize {
        self.identities.values().filter(|i| !i.lost).count()
    }

    /// Identities remembered (live and lost).
    pub fn remembered(&self) -> usize {
        self.identities.len()
    }

    /// Heap and inline bytes held for identities, links and pair memories (an estimate from
    /// sizes and lengths, not an allocator count).
    pub fn memory_bytes(&self) -> usize {
        let gallery = |g: &Option<Gallery>| {
            g.as_ref().map_or(0, |g| {
                g.mean.capacity() * 4 + std::mem::size_of::<Gallery>()
            })
        };
        let ids: usize = self
            .identities
            .values()
            .map(|i| {
                std::mem::size_of::<Identity>()
                    + 16
                    + gallery(&i.gallery)
                    + gallery(&i.any_gallery)
                    + i.cams_now.len() * 16
            })
            .sum();
        let links = self.links.capacity()
            * (std::mem::size_of::<(CameraId, u64)>() + std::mem::size_of::<Link>() + 8);
        let pairs =
            (self.apart.0.capacity() + self.far_apart.0.capacity() + self.close_since.capacity())
                * 32;
        ids + links + pairs + self.parent.capacity() * 24
    }

    fn centred(&self, camera: CameraId, e: &[f32]) -> Option<Vec<f32>> {
        let mut v: Vec<f32> = match self.camera_centre.get(&camera) {
            Some(c) if c.len() == e.len() => e.iter().zip(c).map(|(a, b)| a - b).collect(),
            _ => e.to_vec(),
        };
        normalise(&mut v).then_some(v)
    }

    fn new_identity(
        &mut self,
        t: f64,
        obs: &Observation,
        events: &mut Vec<FusionEvent>,
    ) -> GlobalId {
        let id = self.next_id;
        self.next_id += 1;
        let kf = FloorKalman::new(
            obs.floor.0,
            obs.floor.1,
            obs.floor_var.max(0.01),
            self.cfg.accel_var,
        );
        self.identities.insert(
            id,
            Identity {
                id,
                kf,
                first_seen: t,
                first_pos: obs.floor,
                last_seen: t,
                last_time: t,
                gallery: None,
                any_gallery: None,
                lost: false,
                settled: false,
                cams_now: BTreeSet::new(),
            },
        );
        events.push(FusionEvent::Appeared { identity: id });
        id
    }

    fn gate(&self, ident: &Identity, obs_var: f64) -> f64 {
        self.gate_for(ident.kf.position_sd(), obs_var)
    }

    fn gate_for(&self, position_sd: f64, obs_var: f64) -> f64 {
        let sd = (position_sd.powi(2) + obs_var).sqrt();
        (3.0 * sd).clamp(self.cfg.gate_min_m, self.cfg.gate_max_m)
    }

    /// Links a tracklet to an identity and takes its observation.
    fn link(&mut self, id: GlobalId, obs: &Observation, emb: Option<&Vec<f32>>, t: f64) {
        self.links.insert(
            (obs.camera, obs.track),
            Link {
                identity: id,
                strike_since: None,
            },
        );
        self.observe(id, obs, emb, t);
    }

    fn observe(&mut self, id: GlobalId, obs: &Observation, emb: Option<&Vec<f32>>, t: f64) {
        if let Some(ident) = self.identities.get_mut(&id) {
            ident
                .kf
                .update(obs.floor.0, obs.floor.1, obs.floor_var.max(1e-4));
            ident.last_seen = t;
            ident.lost = false;
            ident.cams_now.insert(obs.camera);
            if let Some(e) = emb {
                let targets = if obs.clear {
                    vec![&mut ident.gallery, &mut ident.any_gallery]
                } else {
                    vec![&mut ident.any_gallery]
                };
                for g in targets {
                    match g {
                        Some(g) => g.add(e),
                        None => {
                            *g = Some(Gallery {
                                mean: e.clone(),
                                samples: 1,
                            })
                        }
                    }
                }
            }
        }
    }

    /// One instant of every camera's tracked people. `t` is seconds on the scene's clock and
    /// must not go backwards.
    pub fn step(&mut self, t: f64, observations: &[Observation]) -> StepOutput {
        let mut events = Vec::new();
        for ident in self.identities.values_mut() {
            if !ident.lost {
                ident.kf.predict((t - ident.last_time).max(0.0));
                ident.last_time = t;
            }
            ident.cams_now.clear();
        }

        // Offsets out, appearance centred.
        let obs: Vec<Observation> = observations
            .iter()
            .filter(|o| o.floor.0.is_finite() && o.floor.1.is_finite())
            .map(|o| {
                let off = self.camera_offset(o.camera);
                Observation {
                    floor: (o.floor.0 - off.0, o.floor.1 - off.1),
                    ..o.clone()
                }
            })
            .collect();
        let embs: Vec<Option<Vec<f32>>> = obs
            .iter()
            .map(|o| {
                o.embedding
                    .as_deref()
                    .and_then(|e| self.centred(o.camera, e))
            })
            .collect();
        let mut assigned: Vec<Option<GlobalId>> = vec![None; obs.len()];

        // Linked tracklets first: consistent ones update their identity.
        let mut by_identity: BTreeMap<GlobalId, Vec<usize>> = BTreeMap::new();
        for (i, o) in obs.iter().enumerate() {
            if let Some(link) = self.links.get(&(o.camera, o.track)) {
                let id = self.resolve(link.identity);
                if self.identities.contains_key(&id) {
                    by_identity.entry(id).or_default().push(i);
                }
            }
        }
        for (id, members) in by_identity {
            let Some(ident) = self.identities.get(&id) else {
                continue;
            };
            let (px, py) = ident.kf.position();
            // Each member is judged against the others and the prediction: the median of those
            // points, so that one camera whose tracklet has jumped to someone else neither drags
            // the identity nor passes for consistent.
            let consensus = |i: usize| -> (f64, f64) {
                let mut xs: Vec<f64> = members
                    .iter()
                    .filter(|&&j| j != i)
                    .map(|&j| obs[j].floor.0)
                    .collect();
                let mut ys: Vec<f64> = members
                    .iter()
                    .filter(|&&j| j != i)
                    .map(|&j| obs[j].floor.1)
                    .collect();
                xs.push(px);
                ys.push(py);
                (median(&mut xs), median(&mut ys))
            };
            let centre = {
                let mut xs: Vec<f64> = members.iter().map(|&j| obs[j].floor.0).collect();
                let mut ys: Vec<f64> = members.iter().map(|&j| obs[j].floor.1).collect();
                xs.push(px);
                ys.push(py);
                (median(&mut xs), median(&mut ys))
            };
            let mut seen_cams = BTreeSet::new();
            let mut order = members.clone();
            order.sort_by(|&a, &b| {
                let da = (obs[a].floor.0 - centre.0).hypot(obs[a].floor.1 - centre.1);
                let db = (obs[b].floor.0 - centre.0).hypot(obs[b].floor.1 - centre.1);
                da.total_cmp(&db)
            });
            for i in order {
                let o = &obs[i];
                let (cx, cy) = consensus(i);
                let d = (o.floor.0 - cx).hypot(o.floor.1 - cy);
                let key = (o.camera, o.track);
                let far = d > self.cfg.split_distance_m.max(3.0 * o.floor_var.sqrt());
                let duplicate = !seen_cams.insert(o.camera);
                let mut split = duplicate;
                if far {
                    let since = match self.links.get_mut(&key) {
                        Some(l) => *l.strike_since.get_or_insert(t),
                        None => t,
                    };
                    split |= t - since >= self.cfg.split_after_s;
                } else if let Some(l) = self.links.get_mut(&key) {
                    l.strike_since = None;
                }
                if split {
                    let since = self
                        .links
                        .get(&key)
                        .and_then(|l| l.strike_since)
                        .unwrap_or(t);
                    self.links.remove(&key);
                    events.push(FusionEvent::Split {
                        camera: o.camera,
                        track: o.track,
                        from: id,
                        to: 0,
                        since_s: since,
                    });
                    continue;
                }
                if !far {
                    let e = embs[i].clone();
                    self.observe(id, o, e.as_ref(), t);
                }
                assigned[i] = Some(id);
            }
        }

        // Unlinked tracklets, camera by camera, against identities that camera has not placed.
        let cameras: BTreeSet<CameraId> = obs.iter().map(|o| o.camera).collect();
        for cam in cameras {
            let pending: Vec<usize> = (0..obs.len())
                .filter(|&i| obs[i].camera == cam && assigned[i].is_none())
                .collect();
            if pending.is_empty() {
                continue;
            }
            let candidates: Vec<GlobalId> = self
                .identities
                .values()
                .filter(|g| {
                    !g.lost && !g.cams_now.contains(&cam) && t - g.last_seen <= self.cfg.coast_s
                })
                .map(|g| g.id)
                .collect();
            let costs: Vec<Vec<f64>> = pending
                .iter()
                .map(|&i| {
                    candidates
                        .iter()
                        .map(|id| match self.identities.get(id) {
                            Some(g) => self.link_cost(g, &obs[i], embs[i].as_ref(), t),
                            None => f64::INFINITY,
                        })
                        .collect()
                })
                .collect();
            let matched = crate::assign::assign(&costs, 1.0);
            let mut taken = vec![false; pending.len()];
            for (r, c) in matched {
                let i = pending[r];
                let id = candidates[c];
                taken[r] = true;
                self.link(id, &obs[i], embs[i].as_ref(), t);
                assigned[i] = Some(id);
            }
            for (r, &i) in pending.iter().enumerate() {
                if taken[r] {
                    continue;
                }
                let id = self.new_identity(t, &obs[i], &mut events);
                self.link(id, &obs[i], embs[i].as_ref(), t);
                assigned[i] = Some(id);
            }
        }
        for ev in &mut events {
            if let FusionEvent::Split {
                camera, track, to, ..
            } = ev
            {
                if let Some(l) = self.links.get(&(*camera, *track)) {
                    *to = l.identity;
                }
            }
        }

        // Identities one camera saw as two are two people.
        let mut per_cam: BTreeMap<CameraId, Vec<GlobalId>> = BTreeMap::new();
        for (i, o) in obs.iter().enumerate() {
            if let Some(id) = assigned[i] {
                per_cam.entry(o.camera).or_default().push(id);
            }
        }
        for ids in per_cam.values() {
            for a in 0..ids.len() {
                for b in a + 1..ids.len() {
                    if ids[a] != ids[b] {
                        self.apart.insert(ids[a], ids[b], t);
                    }
                }
            }
        }

        if self.cfg.camera_offsets {
            self.learn_offsets(&obs, &assigned);
        }
        self.merge_co_located(t, &mut events);
        self.settle_reentries(t, &mut events);
        self.retire(t, &mut events);

        let assignments = obs
            .iter()
            .zip(&assigned)
            .filter_map(|(o, a)| {
                a.map(|id| Assignment {
                    camera: o.camera,
                    track: o.track,
                    identity: self.resolve(id),
                })
            })
            .collect::<Vec<_>>();
        let mut seen: BTreeMap<GlobalId, Vec<(CameraId, u64)>> = BTreeMap::new();
        for a in &assignments {
            seen.entry(a.identity)
                .or_default()
                .push((a.camera, a.track));
        }
        let identities = seen
            .into_iter()
            .filter_map(|(id, seen_by)| {
                let g = self.identities.get(&id)?;
                Some(IdentityState {
                    identity: id,
                    position: g.kf.position(),
                    velocity: (g.kf.mean[2], g.kf.mean[3]),
                    seen_by,
                })
            })
            .collect();
        StepOutput {
            assignments,
            identities,
            events,
        }
    }

    fn link_cost(&self, g: &Identity, o: &Observation, emb: Option<&Vec<f32>>, t: f64) -> f64 {
        let (px, py) = g.kf.position();
        let d = (o.floor.0 - px).hypot(o.floor.1 - py);
        let gate = self.gate(g, o.floor_var);
        if d >= gate {
            return f64::INFINITY;
        }
        // An identity others still see is a better claim than one coasting on its prediction.
        let coasting = if self.cfg.coast_s > 0.0 {
            ((t - g.last_seen) / self.cfg.coast_s).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let geo = (d / gate + 0.25 * coasting).min(0.999);
        match (emb, &g.gallery) {
            (Some(e), Some(gal)) if gal.samples >= 3 => {
                let a = appearance_cost(e, &gal.mean);
                if a > self.cfg.appearance_veto * 1.5 {
                    f64::INFINITY
                } else {
                    0.7 * geo + 0.3 * (a / self.cfg.appearance_veto).min(1.0)
                }
            }
            _ => geo,
        }
    }

    fn learn_offsets(&mut self, obs: &[Observation], assigned: &[Option<GlobalId>]) {
        let mut by_id: BTreeMap<GlobalId, Vec<usize>> = BTreeMap::new();
        for (i, a) in assigned.iter().enumerate() {
            if let Some(id) = a {
                by_id.entry(*id).or_default().push(i);
            }
        }
        for members in by_id.values().filter(|m| m.len() >= 3) {
            for &i in members {
                let others: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&j| j != i && obs[j].camera != obs[i].camera)
                    .collect();
                if others.len() < 2 {
                    continue;
                }
                let mut xs: Vec<f64> = others.iter().map(|&j| obs[j].floor.0).collect();
                let mut ys: Vec<f64> = others.iter().map(|&j| obs[j].floor.1).collect();
                let (mx, my) = (median(&mut xs), median(&mut ys));
                // Residual of the raw point (the offset already removed is added back).
                let cur = self.camera_offset(obs[i].camera);
                let r = (obs[i].floor.0 + cur.0 - mx, obs[i].floor.1 + cur.1 - my);
                if r.0.hypot(r.1) > 2.0 {
                    continue;
                }
                let est = self.offsets.entry(obs[i].camera).or_default();
                est.residuals.push_back(r);
                if est.residuals.len() > OFFSET_WINDOW {
                    est.residuals.pop_front();
                }
            }
        }
        // Each camera's median residual, less the median over cameras (the floor's frame is the
        // cameras' consensus, not any one camera's).
        let mut raw: BTreeMap<CameraId, (f64, f64)> = BTreeMap::new();
        for (&cam, est) in &self.offsets {
            if est.residuals.len() >= self.cfg.offset_min_samples {
                let mut xs: Vec<f64> = est.residuals.iter().map(|r| r.0).collect();
                let mut ys: Vec<f64> = est.residuals.iter().map(|r| r.1).collect();
                raw.insert(cam, (median(&mut xs), median(&mut ys)));
            }
        }
        if raw.len() < 3 {
            return;
        }
        let mut xs: Vec<f64> = raw.values().map(|r| r.0).collect();
        let mut ys: Vec<f64> = raw.values().map(|r| r.1).collect();
        let (gx, gy) = (median(&mut xs), median(&mut ys));
        for (cam, (x, y)) in raw {
            if let Some(est) = self.offsets.get_mut(&cam) {
                let (ox, oy) = (x - gx, y - gy);
                // Offsets under 5 cm are noise, not calibration.
                est.offset = if ox.hypot(oy) < 0.05 {
                    (0.0, 0.0)
                } else {
                    (ox, oy)
                };
            }
        }
    }

    fn merge_co_located(&mut self, t: f64, events: &mut Vec<FusionEvent>) {
        let live: Vec<(GlobalId, (f64, f64), BTreeSet<CameraId>)> = self
            .identities
            .values()
            .filter(|g| !g.lost && g.last_seen == t)
            .map(|g| (g.id, g.kf.position(), g.cams_now.clone()))
            .collect();
        let mut close_now = std::collections::HashSet::new();
        let mut merges = Vec::new();
        for a in 0..live.len() {
            for b in a + 1..live.len() {
                let (ia, pa, ca) = &live[a];
                let (ib, pb, cb) = &live[b];
                let d = (pa.0 - pb.0).hypot(pa.1 - pb.1);
                if d > FAR_APART_M {
                    self.far_apart.insert(*ia, *ib, t);
                }
                if !ca.is_disjoint(cb) {
                    continue;
                }
                if d > self.cfg.merge_distance_m || self.far_apart.last(*ia, *ib).is_some() {
                    continue;
                }
                let key = pair(*ia, *ib);
                close_now.insert(key);
                let since = *self.close_since.entry(key).or_insert(t);
                // Standing together, seen by different cameras, for long enough since any camera
                // last saw them as two.
                let apart_before = self.apart.last(*ia, *ib).is_none_or(|a| a < since);
                if apart_before
                    && t - since >= self.cfg.merge_after_s
                    && self.appearance_agrees(*ia, *ib)
                {
                    merges.push(key);
                }
            }
        }
        self.close_since.retain(|k, _| close_now.contains(k));
        for (a, b) in merges {
            let (a, b) = (self.resolve(a), self.resolve(b));
            if a == b {
                continue;
            }
            // The identity seen first keeps its id.
            let (keep, gone) = match (self.identities.get(&a), self.identities.get(&b)) {
                (Some(x), Some(y)) if x.first_seen <= y.first_seen => (a, b),
                (Some(_), Some(_)) => (b, a),
                _ => continue,
            };
            self.absorb(keep, gone);
            events.push(FusionEvent::Merged {
                from: gone,
                into: keep,
            });
        }
    }

    fn appearance_agrees(&self, a: GlobalId, b: GlobalId) -> bool {
        let (Some(ga), Some(gb)) = (self.identities.get(&a), self.identities.get(&b)) else {
            return true;
        };
        let enough = |g: &Option<Gallery>| {
            g.as_ref()
                .filter(|g| g.samples >= 3)
                .map(|g| g.mean.clone())
        };
        let pair = match (enough(&ga.gallery), enough(&gb.gallery)) {
            (Some(x), Some(y)) => Some((x, y)),
            _ => enough(&ga.any_gallery).zip(enough(&gb.any_gallery)),
        };
        pair.is_none_or(|(x, y)| appearance_cost(&x, &y) <= self.cfg.appearance_veto)
    }

    /// `gone` becomes `keep`: links, gallery, history.
    fn absorb(&mut self, keep: GlobalId, gone: GlobalId) {
        let Some(g) = self.identities.remove(&gone) else {
            return;
        };
        if let Some(k) = self.identities.get_mut(&keep) {
            for (from, into) in [
                (&g.gallery, &mut k.gallery),
                (&g.any_gallery, &mut k.any_gallery),
            ] {
                if let Some(gg) = from {
                    match into {
                        Some(kg) => kg.merge(gg),
                        None => *into = Some(gg.clone()),
                    }
                }
            }
            if g.last_seen > k.last_seen || k.lost {
                k.kf = g.kf.clone();
                k.last_time = g.last_time;
            } else if !g.lost && g.last_seen == k.last_seen {
                let (gx, gy) = g.kf.position();
                k.kf.update(gx, gy, g.kf.position_sd().powi(2).max(1e-4));
            }
            k.first_seen = k.first_seen.min(g.first_seen);
            k.last_seen = k.last_seen.max(g.last_seen);
            k.lost = k.lost && g.lost;
            k.cams_now.extend(g.cams_now.iter().copied());
        }
        for l in self.links.values_mut() {
            if l.identity == gone {
                l.identity = keep;
            }
        }
        self.parent.insert(gone, keep);
        self.apart.rename(gone, keep);
        self.far_apart.rename(gone, keep);
    }

    fn settle_reentries(&mut self, t: f64, events: &mut Vec<FusionEvent>) {
        let young: Vec<GlobalId> = self
            .identities
            .values()
            .filter(|g| !g.settled && !g.lost && t - g.first_seen >= self.cfg.reentry_after_s)
            .map(|g| g.id)
            .collect();
        let gallery_of = |g: &Identity| -> Option<Vec<f32>> {
            [&g.gallery, &g.any_gallery]
                .into_iter()
                .flatten()
                .find(|x| x.samples >= 3)
                .map(|x| x.mean.clone())
        };
        for id in young {
            let Some(g) = self.identities.get(&id) else {
                continue;
            };
            let (gal, pos, first) = (gallery_of(g), g.first_pos, g.first_seen);
            // By appearance where both have it; by motion alone (a short absence, one
            // plausible candidate) where neither does.
            let mut by_look: Option<(f64, GlobalId)> = None;
            let mut by_motion: Vec<(f64, GlobalId)> = Vec::new();
            for old in self
                .identities
                .values()
                .filter(|o| o.lost && o.id != id && o.last_seen < first)
            {
                if self.apart.last(old.id, id).is_some()
                    || self.far_apart.last(old.id, id).is_some()
                {
                    continue;
                }
                let gap = first - old.last_seen;
                let (ox, oy) = old.kf.position();
                let reach = self.cfg.max_speed_mps * gap + self.cfg.gate_max_m;
                let d = (pos.0 - ox).hypot(pos.1 - oy);
                if d > reach {
                    continue;
                }
                match (&gal, gallery_of(old)) {
                    (Some(a), Some(b)) => {
                        let c = appearance_cost(a, &b);
                        if c < self.cfg.reentry_cost && by_look.is_none_or(|(bc, _)| c < bc) {
                            by_look = Some((c, old.id));
                        }
                    }
                    _ if gap <= self.cfg.reentry_motion_s => by_motion.push((d / reach, old.id)),
                    _ => {}
                }
            }
            by_motion.sort_by(|a, b| a.0.total_cmp(&b.0));
            let motion_pick = match by_motion.as_slice() {
                [only] => Some(*only),
                [best, second, ..] if best.0 < 0.5 * second.0 => Some(*best),
                _ => None,
            };
            let best = by_look.or(motion_pick);
            if let Some(g) = self.identities.get_mut(&id) {
                g.settled = true;
            }
            if let Some((_, old)) = best {
                self.absorb(old, id);
                if let Some(o) = self.identities.get_mut(&old) {
                    o.settled = true;
                }
                events.push(FusionEvent::Reentered { old, new: id });
            }
        }
    }

    fn retire(&mut self, t: f64, events: &mut Vec<FusionEvent>) {
        for g in self.identities.values_mut() {
            if !g.lost && t - g.last_seen > self.cfg.coast_s {
                g.lost = true;
                events.push(FusionEvent::Left { identity: g.id });
            }
        }
        let forget = self.cfg.forget_s;
        let gone: Vec<GlobalId> = self
            .identities
            .values()
            .filter(|g| g.lost && t - g.last_seen > forget)
            .map(|g| g.id)
            .collect();
        for id in gone {
            self.identities.remove(&id);
            self.apart.forget(id);
            self.far_apart.forget(id);
        }
        let alive: std::collections::HashSet<GlobalId> = self.identities.keys().copied().collect();
        self.links.retain(|_, l| alive.contains(&l.identity));
    }

    /// Tracklets a camera has ended: their links go.
    pub fn end_tracks(&mut self, camera: CameraId, tracks: &[u64]) {
        for t in tracks {
            self.links.remove(&(camera, *t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ob(camera: CameraId, track: u64, x: f64, y: f64) -> Observation {
        Observation {
            camera,
            track,
            floor: (x, y),
            floor_var: 0.04,
            embedding: None,
            clear: true,
        }
    }

    #[test]
    fn two_cameras_one_person_is_one_identity() {
        let mut f = Fusion::new(FusionConfig::default());
        let mut ids = BTreeSet::new();
        for k in 0..50 {
            let t = k as f64 * 0.1;
            let x = 1.0 + 1.2 * t;
            let out = f.step(t, &[ob(0, 7, x + 0.1, 2.0), ob(1, 3, x - 0.1, 2.05)]);
            for a in out.assignments {
                ids.insert(a.identity);
            }
        }
        assert_eq!(ids.len(), 1, "{ids:?}");
    }

    #[test]
    fn two_apart_people_stay_two_and_a_late_duplicate_merges() {
        let mut f = Fusion::new(FusionConfig::default());
        let mut last = Vec::new();
        let mut merged = false;
        for k in 0..60 {
            let t = k as f64 * 0.1;
            // Camera 1 sees person A far off its true place at first (a bad foot point), then
            // correctly: it starts as a separate identity and must merge.
            let ax = if k < 10 { 6.0 } else { 1.0 };
            let mut obs = vec![ob(0, 1, 1.0, 1.0), ob(0, 2, 5.0, 5.0), ob(1, 9, ax, 1.0)];
            obs.sort_by_key(|o| o.camera);
            let out = f.step(t, &obs);
            merged |= out
                .events
                .iter()
                .any(|e| matches!(e, FusionEvent::Merged { .. } | FusionEvent::Split { .. }));
            last = out.assignments;
        }
        assert!(merged);
        let id = |c: CameraId, tr: u64| {
            last.iter()
                .find(|a| a.camera == c && a.track == tr)
                .map(|a| a.identity)
        };
        assert_eq!(id(0, 1), id(1, 9));
        assert_ne!(id(0, 1), id(0, 2));
        assert_eq!(f.active(), 2);
    }

    #[test]
    fn a_returning_person_gets_their_old_id_by_appearance() {
        let mut f = Fusion::new(FusionConfig {
            coast_s: 1.0,
            ..FusionConfig::default()
        });
        let e = |v: [f32; 3]| {
            let mut v = v.to_vec();
            normalise(&mut v);
            Some(v)
        };
        let p = |cam, tr, x, y, emb: [f32; 3]| Observation {
            embedding: e(emb),
            ..ob(cam, tr, x, y)
        };
        let mut first = None;
        for k in 0..30 {
            let out = f.step(
                k as f64 * 0.1,
                &[
                    p(0, 1, 1.0, 1.0, [1.0, 0.1, 0.0]),
                    p(0, 2, 8.0, 8.0, [0.0, 1.0, 0.1]),
                ],
            );
            first = out
                .assignments
                .iter()
                .find(|a| a.track == 1)
                .map(|a| a.identity);
        }
        // Person 1 leaves for 5 s, then comes back elsewhere with a new tracklet.
        for k in 30..80 {
            f.step(k as f64 * 0.1, &[p(0, 2, 8.0, 8.0, [0.0, 1.0, 0.1])]);
        }
        let mut back = None;
        let mut reentered = false;
        for k in 80..110 {
            let out = f.step(
                k as f64 * 0.1,
                &[
                    p(0, 5, 3.0, 2.0, [1.0, 0.12, 0.0]),
                    p(0, 2, 8.0, 8.0, [0.0, 1.0, 0.1]),
                ],
            );
            reentered |= out
                .events
                .iter()
                .any(|e| matches!(e, FusionEvent::Reentered { .. }));
            back = out
                .assignments
                .iter()
                .find(|a| a.track == 5)
                .map(|a| a.identity);
        }
        assert!(reentered);
        assert_eq!(back, first);
    }

    #[test]
    fn a_camera_offset_is_learnt_and_removed() {
        let mut f = Fusion::new(FusionConfig::default());
        for k in 0..200 {
            let t = k as f64 * 0.1;
            let x = 2.0 + (t * 0.5).sin() * 3.0;
            let y = 4.0 + (t * 0.3).cos() * 2.0;
            let j = if k % 2 == 0 { 0.05 } else { -0.05 };
            f.step(
                t,
                &[
                    ob(0, 1, x + j, y),
                    ob(1, 1, x - j, y + j),
                    ob(2, 1, x, y - j),
                    ob(3, 1, x + 0.4, y - 0.3),
                ],
            );
        }
        let (ox, oy) = f.camera_offset(3);
        assert!(
            (ox - 0.4).abs() < 0.08 && (oy + 0.3).abs() < 0.08,
            "offset {ox},{oy}"
        );
        let (ax, ay) = f.camera_offset(0);
        assert!(ax.hypot(ay) < 0.08);
        assert_eq!(f.active(), 1);
    }

    #[test]
    fn ids_seen_apart_by_one_camera_never_merge() {
        let mut f = Fusion::new(FusionConfig::default());
        let mut ids = BTreeSet::new();
        for k in 0..40 {
            // Two people walk side by side 0.5 m apart; camera 0 sees both.
            let t = k as f64 * 0.1;
            let out = f.step(
                t,
                &[
                    ob(0, 1, 1.0 + t, 1.0),
                    ob(0, 2, 1.0 + t, 1.5),
                    ob(1, 4, 1.0 + t, 1.05),
                ],
            );
            for a in out.assignments.iter().filter(|a| a.camera == 0) {
                ids.insert(a.identity);
            }
        }
        assert_eq!(f.active(), 2);
        assert_eq!(ids.len(), 2);
    }
}
