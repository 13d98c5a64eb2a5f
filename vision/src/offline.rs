//! Offline runs: a scene's files, loaded and laid out on the scene's own clock, and the
//! assembly of what the camera actors and the fusion aggregator report into results that can
//! be scored (the actors' side is `urbanstream_actors::offline`).

use crate::fusion::{CameraId, FusionConfig, FusionEvent, GlobalId};
use crate::geometry::{CalibrationError, CalibrationSpec, FloorCalibration};
use crate::kalman::smooth_floor_track;
use crate::mot::{
    by_frame, parse_mot, parse_npy, write_result_line, DetRow, FormatError, Matrix32,
};
use crate::tracker::{iou, normalise, Detection, TrackerConfig};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Format { path: PathBuf, source: FormatError },
    #[error("{path}: {reason}")]
    Json { path: PathBuf, reason: String },
    #[error("camera {camera}: {source}")]
    Calibration {
        camera: String,
        source: CalibrationError,
    },
    #[error("camera {camera}: {reason}")]
    Camera { camera: String, reason: String },
    #[error("{0}")]
    Config(String),
}

fn read(path: &Path) -> Result<Vec<u8>, SceneError> {
    std::fs::read(path).map_err(|source| SceneError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OfflineConfig {
    pub tracker: TrackerConfig,
    pub fusion: FusionConfig,
    /// Gaps in a track up to this long are filled by interpolation in the written results,
    /// seconds (0: off).
    pub fill_gaps_s: f64,
    /// Identities observed for less than this in all, and only ever by one camera at a time,
    /// are left out of the results, seconds.
    pub min_identity_s: f64,
    /// Half a person's depth: how far the middle of a person stands behind the bottom edge of
    /// their box, metres.
    pub body_radius_m: f64,
}

impl Default for OfflineConfig {
    fn default() -> Self {
        Self {
            tracker: TrackerConfig::default(),
            fusion: FusionConfig::default(),
            fill_gaps_s: 1.0,
            min_identity_s: 0.5,
            body_radius_m: 0.0,
        }
    }
}

impl OfflineConfig {
    pub fn validate(&self) -> Result<(), SceneError> {
        self.tracker.validate().map_err(SceneError::Config)?;
        self.fusion.validate().map_err(SceneError::Config)?;
        if !(self.fill_gaps_s >= 0.0 && self.min_identity_s >= 0.0) {
            return Err(SceneError::Config(
                "fill_gaps_s and min_identity_s must be zero or more".into(),
            ));
        }
        Ok(())
    }
}

/// One camera of a scene, loaded.
#[derive(Debug)]
pub struct SceneCamera {
    pub id: CameraId,
    pub calibration: FloorCalibration,
    pub size: Option<[u32; 2]>,
    pub fps: f64,
    pub detections: Vec<DetRow>,
    pub embeddings: Option<Matrix32>,
}

/// Loads `cameras.json` and every `cam{c}/det.txt` (+ optional `emb.npy`) of a scene folder.
pub fn load_scene(dir: &Path) -> Result<Vec<SceneCamera>, SceneError> {
    let path = dir.join("cameras.json");
    let json = read(&path)?;
    let specs: BTreeMap<String, CalibrationSpec> =
        serde_json::from_slice(&json).map_err(|e| SceneError::Json {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    if specs.is_empty() {
        return Err(SceneError::Json {
            path,
            reason: "no cameras".into(),
        });
    }
    let mut cams = Vec::new();
    for (name, spec) in specs {
        let id: CameraId =
            name.trim_start_matches("cam")
                .parse()
                .map_err(|e: std::num::ParseIntError| SceneError::Camera {
                    camera: name.clone(),
                    reason: format!("camera keys are numbers (\"0\", \"1\", …): {e}"),
                })?;
        let calibration =
            FloorCalibration::from_spec(&spec).map_err(|source| SceneError::Calibration {
                camera: name.clone(),
                source,
            })?;
        let fps = spec.fps.unwrap_or(10.0);
        if !(fps > 0.0 && fps <= 1000.0) {
            return Err(SceneError::Camera {
                camera: name,
                reason: format!("fps must be within (0, 1000], got {fps}"),
            });
        }
        let cam_dir = dir.join(format!("cam{id}"));
        let det_path = cam_dir.join("det.txt");
        let text = String::from_utf8_lossy(&read(&det_path)?).into_owned();
        let detections = parse_mot(&text).map_err(|source| SceneError::Format {
            path: det_path.clone(),
            source,
        })?;
        let emb_path = cam_dir.join("emb.npy");
        let embeddings = if emb_path.exists() {
            let m = parse_npy(&read(&emb_path)?).map_err(|source| SceneError::Format {
                path: emb_path.clone(),
                source,
            })?;
            if m.rows != detections.len() {
                return Err(SceneError::Camera {
                    camera: name,
                    reason: format!(
                        "emb.npy has {} rows for {} detections",
                        m.rows,
                        detections.len()
                    ),
                });
            }
            Some(m)
        } else {
            None
        };
        cams.push(SceneCamera {
            id,
            calibration,
            size: spec.size,
            fps,
            detections,
            embeddings,
        });
    }
    Ok(cams)
}

/// A track's boxes by frame: `frame → (box, score)`.
type FrameBoxes = BTreeMap<u64, ([f64; 4], f64)>;

/// A box written for a camera: `(frame, global id, box, score)`.
pub type BoxRow = (u64, u64, [f64; 4], f64);

#[derive(Debug, Default)]
pub struct MtmcResult {
    pub per_camera: BTreeMap<CameraId, Vec<BoxRow>>,
    /// `(frame, global id, x, y)`, metres.
    pub floor: Vec<(u64, u64, f64, f64)>,
    pub identities: usize,
    pub merges: usize,
    pub splits: usize,
    pub reentries: usize,
    pub camera_offsets: BTreeMap<CameraId, (f64, f64)>,
    pub detections: usize,
    /// Merges, splits and re-entries as they happened, `(seconds, event)`.
    pub events: Vec<(f64, FusionEvent)>,
}

/// One tracked person in one camera's frame, as a camera reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackedPerson {
    pub track: u64,
    /// `[x, y, width, height]`, pixels.
    pub bbox: [f64; 4],
    pub score: f64,
    /// Where the person stands on the floor, metres, and its variance, m²; none where the
    /// feet are off the floor (above the horizon) or the camera has no calibration.
    pub floor: Option<((f64, f64), f64)>,
}

struct Record {
    camera: CameraId,
    frame: u64,
    time: f64,
    track: u64,
    identity: GlobalId,
    bbox: [f64; 4],
    score: f64,
    floor_raw: Option<(f64, f64)>,
    floor_var: f64,
}

/// The point under a person's feet from their box, and its variance, m². The bottom edge of a
/// box is the nearest part of the person's feet, so where the camera's position is known the
/// point moves `body_radius_m` away from the camera, to the middle of the person.
pub fn foot_on_floor(
    cal: &FloorCalibration,
    b: [f64; 4],
    body_radius_m: f64,
) -> Option<((f64, f64), f64)> {
    let (u, v) = (b[0] + b[2] / 2.0, b[1] + b[3]);
    let mut p = cal.to_floor(u, v)?;
    if let Some(c) = cal.centre {
        let (dx, dy) = (p.0 - c[0], p.1 - c[1]);
        let d = dx.hypot(dy);
        if d > 1e-6 {
            p = (p.0 + dx / d * body_radius_m, p.1 + dy / d * body_radius_m);
        }
    }
    let mpp = cal.metres_per_pixel(u, v).unwrap_or(0.01);
    // Feet are found to about 4 % of the box height, never better than a pixel.
    let sd = mpp * (0.04 * b[3]).max(1.0);
    Some((p, sd * sd + 0.0025))
}

/// Whether box `i` stands clear of the frame's other boxes and, where the frame's size is
/// known, of the image border: only such a view of a person teaches their appearance.
pub fn clear_of(others: &[[f64; 4]], i: usize, size: Option<[u32; 2]>) -> bool {
    let b = others[i];
    let inside = size.is_none_or(|[w, h]| {
        b[0] > 2.0
            && b[1] > 2.0
            && b[0] + b[2] < f64::from(w) - 2.0
            && b[1] + b[3] < f64::from(h) - 2.0
    });
    inside
        && others
            .iter()
            .enumerate()
            .all(|(j, o)| j == i || iou(b, *o) < 0.05)
}

/// The mean direction of a camera's appearance vectors: what its lighting and colour cast add
/// to everyone it sees, taken out before vectors of different cameras are compared.
pub fn camera_centre(m: &Matrix32) -> Option<Vec<f32>> {
    if m.rows == 0 {
        return None;
    }
    let mut c = vec![0f32; m.cols];
    for i in 0..m.rows {
        let Some(r) = m.row(i) else { continue };
        let n = r.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        c.iter_mut()
            .zip(r)
            .for_each(|(a, b)| *a += b / n / m.rows as f32);
    }
    Some(c)
}

/// One frame's detection rows as detections; `embeddings` (row i ↔ line i of the file) gives
/// their appearance vectors, made unit length.
pub fn frame_detections(embeddings: Option<&Matrix32>, rows: &[&DetRow]) -> Vec<Detection> {
    rows.iter()
        .map(|r| Detection {
            bbox: r.bbox,
            score: r.score,
            embedding: embeddings.and_then(|m| m.row(r.line)).map(|e| {
                let mut e = e.to_vec();
                normalise(&mut e);
                e
            }),
        })
        .collect()
}

/// One camera's frame of a scene: `(camera index, frame number, its detection rows)`.
pub type CameraFrameRows<'a> = (usize, u64, Vec<&'a DetRow>);

/// Every camera-frame of a scene on one clock: frame k of a camera is at (k − 1) / fps.
/// `instant (µs) → [(camera index, frame, its detection rows)]`, every frame from 1 to the
/// camera's last, with or without detections. Rows are borrowed: a frame becomes detections
/// ([`frame_detections`]) only when it is fed.
pub fn scene_instants(cams: &[SceneCamera]) -> BTreeMap<i64, Vec<CameraFrameRows<'_>>> {
    let mut instants: BTreeMap<i64, Vec<CameraFrameRows<'_>>> = BTreeMap::new();
    for (ci, cam) in cams.iter().enumerate() {
        let mut frames = by_frame(&cam.detections);
        let last = frames.keys().next_back().copied().unwrap_or(0);
        for k in 1..=last {
            let t_us = (((k - 1) as f64 / cam.fps) * 1e6).round() as i64;
            let rows = frames.remove(&k).unwrap_or_default();
            instants.entry(t_us).or_default().push((ci, k, rows));
        }
    }
    instants
}

/// Turns what cameras and the fusion report during a scene's run into its results: every
/// camera's boxes under global ids and the identities' floor trajectories. Cameras report
/// their frames ([`Self::frame`]); each fusion step names the identities of the tracks it saw
/// and what changed ([`Self::step`]); [`Self::finish`] then resolves merges, leaves out
/// identities with too little evidence, fills short gaps and smooths the floor paths.
pub struct MtmcAssembler {
    cfg: OfflineConfig,
    ref_fps: f64,
    records: Vec<Record>,
    by_track: HashMap<(CameraId, u64), Vec<usize>>,
    pending: Vec<Record>,
    result: MtmcResult,
}

impl MtmcAssembler {
    /// `ref_fps`: the frame rate floor trajectories are written at (frame numbers of
    /// `floor.txt`).
    pub fn new(cfg: &OfflineConfig, ref_fps: f64) -> Self {
        Self {
            cfg: cfg.clone(),
            ref_fps: if ref_fps > 0.0 { ref_fps } else { 10.0 },
            records: Vec::new(),
            by_track: HashMap::new(),
            pending: Vec::new(),
            result: MtmcResult::default(),
        }
    }

    /// One camera's tracked people in frame `frame` at `time` seconds, out of `detections`
    /// boxes detected.
    pub fn frame(
        &mut self,
        camera: CameraId,
        frame: u64,
        time: f64,
        detections: usize,
        people: &[TrackedPerson],
    ) {
        self.result.detections += detections;
        self.pending.extend(people.iter().map(|p| Record {
            camera,
            frame,
            time,
            track: p.track,
            identity: 0,
            bbox: p.bbox,
            score: p.score,
            floor_raw: p.floor.map(|f| f.0),
            floor_var: p.floor.map_or(1.0, |f| f.1),
        }));
    }

    /// A fusion step at `time`: `seen` maps `(camera, track)` to the identity it was given.
    /// Frames up to `time` get their identities; a box the step did not place (its feet off
    /// the floor) has none and is left out.
    pub fn step(
        &mut self,
        time: f64,
        seen: &HashMap<(CameraId, u64), GlobalId>,
        events: &[FusionEvent],
    ) {
        let (now, later): (Vec<Record>, Vec<Record>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|r| r.time <= time + 1e-9);
        self.pending = later;
        for mut r in now {
            let Some(&id) = seen.get(&(r.camera, r.track)) else {
                continue;
            };
            r.identity = id;
            self.by_track
                .entry((r.camera, r.track))
                .or_default()
                .push(self.records.len());
            self.records.push(r);
        }
        for ev in events {
            if !matches!(ev, FusionEvent::Appeared { .. } | FusionEvent::Left { .. }) {
                self.result.events.push((time, ev.clone()));
            }
            match *ev {
                FusionEvent::Split {
                    camera,
                    track,
                    to,
                    since_s,
                    ..
                } => {
                    self.result.splits += 1;
                    if let Some(idx) = self.by_track.get(&(camera, track)) {
                        for &i in idx.iter().rev() {
                            if self.records[i].time + 1e-9 < since_s {
                                break;
                            }
                            self.records[i].identity = to;
                        }
                    }
                }
                FusionEvent::Merged { .. } => self.result.merges += 1,
                FusionEvent::Reentered { .. } => self.result.reentries += 1,
                FusionEvent::Appeared { .. } | FusionEvent::Left { .. } => {}
            }
        }
    }

    /// The results, given each camera's frame rate, the cameras' learnt floor offsets and
    /// the fusion's final word on which identities are one (`resolve`).
    pub fn finish(
        self,
        cameras: &[(CameraId, f64)],
        offsets: BTreeMap<CameraId, (f64, f64)>,
        resolve: impl Fn(GlobalId) -> GlobalId,
    ) -> MtmcResult {
        let Self {
            cfg,
            ref_fps,
            mut records,
            mut result,
            ..
        } = self;
        result.camera_offsets = offsets;
        for r in &mut records {
            r.identity = resolve(r.identity);
        }

        // Identities with too little evidence are left out.
        let mut span: HashMap<GlobalId, (f64, f64, bool)> = HashMap::new();
        let mut at: HashMap<(GlobalId, i64), u32> = HashMap::new();
        for r in &records {
            let e = span.entry(r.identity).or_insert((r.time, r.time, false));
            e.0 = e.0.min(r.time);
            e.1 = e.1.max(r.time);
            let n = at.entry((r.identity, (r.time * 1e6) as i64)).or_insert(0);
            *n += 1;
            if *n >= 2 {
                e.2 = true;
            }
        }
        let keep = |id: GlobalId| {
            span.get(&id)
                .is_some_and(|&(a, b, multi)| multi || b - a >= cfg.min_identity_s)
        };

        // Per-camera boxes: one per identity and frame (the more confident), gaps filled.
        let mut per: BTreeMap<CameraId, BTreeMap<GlobalId, FrameBoxes>> = BTreeMap::new();
        for r in records.iter().filter(|r| keep(r.identity)) {
            let slot = per
                .entry(r.camera)
                .or_default()
                .entry(r.identity)
                .or_default();
            match slot.get(&r.frame) {
                Some((_, s)) if *s >= r.score => {}
                _ => {
                    slot.insert(r.frame, (r.bbox, r.score));
                }
            }
        }
        for &(camera, fps) in cameras {
            let Some(tracks) = per.remove(&camera) else {
                continue;
            };
            let tracks = tracks
                .into_iter()
                .map(|(id, rows)| (id, rows.into_iter().map(|(f, (b, s))| (f, b, s)).collect()))
                .collect();
            result.per_camera.insert(
                camera,
                fill_gaps(tracks, (cfg.fill_gaps_s * fps).round() as u64),
            );
        }

        // Floor: the cameras' points fused per instant (latest offsets out), then smoothed.
        let mut floor_pts: BTreeMap<GlobalId, BTreeMap<i64, (f64, f64, f64)>> = BTreeMap::new();
        for r in records.iter().filter(|r| keep(r.identity)) {
            let Some((x, y)) = r.floor_raw else { continue };
            let off = result
                .camera_offsets
                .get(&r.camera)
                .copied()
                .unwrap_or((0.0, 0.0));
            let w = 1.0 / r.floor_var.max(1e-6);
            let e = floor_pts
                .entry(r.identity)
                .or_default()
                .entry((r.time * 1e6).round() as i64)
                .or_insert((0.0, 0.0, 0.0));
            e.0 += w * (x - off.0);
            e.1 += w * (y - off.1);
            e.2 += w;
        }
        let (max_gap_s, accel) = (cfg.fill_gaps_s, cfg.fusion.accel_var);
        for (id, pts) in floor_pts {
            let mut samples: Vec<(f64, f64, f64, f64)> = Vec::new();
            let mut last_t: Option<f64> = None;
            for (t_us, (sx, sy, w)) in pts {
                let t = t_us as f64 / 1e6;
                if let Some(lt) = last_t {
                    let gap = t - lt;
                    let steps = (gap * ref_fps).round() as i64;
                    if gap <= max_gap_s + 1e-9 && steps > 1 {
                        for k in 1..steps {
                            samples.push((lt + k as f64 / ref_fps, 0.0, 0.0, f64::INFINITY));
                        }
                    } else if gap > max_gap_s + 1e-9 {
                        flush_floor(&mut result.floor, id, &samples, ref_fps, accel);
                        samples.clear();
                    }
                }
                samples.push((t, sx / w, sy / w, 1.0 / w));
                last_t = Some(t);
            }
            flush_floor(&mut result.floor, id, &samples, ref_fps, accel);
        }
        result.floor.sort_by_key(|r| (r.0, r.1));
        let mut ids: Vec<u64> = result.floor.iter().map(|r| r.1).collect();
        ids.sort_unstable();
        ids.dedup();
        result.identities = ids.len();
        result
    }
}

fn flush_floor(
    out: &mut Vec<(u64, u64, f64, f64)>,
    id: GlobalId,
    samples: &[(f64, f64, f64, f64)],
    fps: f64,
    accel_var: f64,
) {
    if samples.is_empty() {
        return;
    }
    let smooth = smooth_floor_track(samples, accel_var);
    for (s, p) in samples.iter().zip(smooth) {
        let frame = (s.0 * fps).round() as u64 + 1;
        out.push((frame, id, p.0, p.1));
    }
}

/// Writes `OUT/cam{c}/res.txt` and `OUT/floor.txt`.
pub fn write_mtmc(result: &MtmcResult, cams: &[SceneCamera], out: &Path) -> Result<(), SceneError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SceneError::Io {
            path: path.clone(),
            source,
        }
    };
    for cam in cams {
        let dir = out.join(format!("cam{}", cam.id));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mut text = String::new();
        for &(f, id, b, s) in result
            .per_camera
            .get(&cam.id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            write_result_line(&mut text, f, id, b, s);
        }
        let p = dir.join("res.txt");
        std::fs::write(&p, text).map_err(io(&p))?;
    }
    let mut text = String::new();
    for &(f, id, x, y) in &result.floor {
        let _ = writeln!(text, "{f},{id},{x:.3},{y:.3}");
    }
    let p = out.join("floor.txt");
    std::fs::write(&p, text).map_err(io(&p))?;
    Ok(())
}

/// Linear interpolation inside each track's gaps up to `max_gap` frames.
pub fn fill_gaps(per: BTreeMap<u64, Vec<(u64, [f64; 4], f64)>>, max_gap: u64) -> Vec<BoxRow> {
    let mut out = Vec::new();
    for (id, rows) in per {
        let mut prev: Option<(u64, [f64; 4], f64)> = None;
        for (f, b, s) in rows {
            if let Some((pf, pb, ps)) = prev {
                let gap = f.saturating_sub(pf);
                if gap > 1 && gap <= max_gap {
                    for k in 1..gap {
                        let a = k as f64 / gap as f64;
                        out.push((
                            pf + k,
                            id,
                            [0, 1, 2, 3].map(|i| pb[i] + a * (b[i] - pb[i])),
                            ps.min(s),
                        ));
                    }
                }
            }
            out.push((f, id, b, s));
            prev = Some((f, b, s));
        }
    }
    out.sort_by_key(|r| (r.0, r.1));
    out
}
