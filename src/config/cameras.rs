//! `[cameras]`: fixed cameras whose people are tracked and fused into global identities.

use serde::Deserialize;
use urbanstream_vision::fusion::FusionConfig;
use urbanstream_vision::geometry::{CalibrationSpec, FloorCalibration};
use urbanstream_vision::tracker::TrackerConfig;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CamerasSection {
    /// The per-camera tracker's settings (every camera).
    #[serde(default)]
    pub tracker: TrackerConfig,
    /// The cross-camera fusion's settings.
    #[serde(default)]
    pub fusion: FusionConfig,
    #[serde(default)]
    pub list: Vec<CameraEntry>,
    /// The site the cameras watch.
    #[serde(default)]
    pub environment: EnvironmentEntry,
    /// What a tracking session records.
    #[serde(default)]
    pub record: RecordEntry,
}

/// The site: its id and name, and the floor plan's size in metres (positions are metres from
/// the plan's origin).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentEntry {
    #[serde(default = "default_environment_id")]
    pub id: String,
    #[serde(default = "default_environment_name")]
    pub name: String,
    #[serde(default)]
    pub width_m: f64,
    #[serde(default)]
    pub height_m: f64,
}

impl Default for EnvironmentEntry {
    fn default() -> Self {
        Self {
            id: default_environment_id(),
            name: default_environment_name(),
            width_m: 0.0,
            height_m: 0.0,
        }
    }
}

fn default_environment_id() -> String {
    "site".into()
}

fn default_environment_name() -> String {
    "Site".into()
}

/// Recording of tracking sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordEntry {
    /// Start a session when the server starts (sessions left open by a previous process are
    /// closed first); otherwise cameras wait for an operator's `POST /api/v1/sessions`.
    #[serde(default = "default_true")]
    pub autostart: bool,
    /// At most one trajectory point per person per this many seconds.
    #[serde(default = "default_point_every")]
    pub point_every_s: f64,
    /// Trajectory points (and appearances) older than this many days are deleted (0 keeps
    /// them).
    #[serde(default = "default_trajectory_days")]
    pub trajectory_days: u32,
    /// Record each identity's learnt appearance vector (the node's embedding or the colour
    /// histogram), which `GET /api/v1/persons/{id}/similar` searches. Off by default: only
    /// positions and anonymous ids are kept.
    #[serde(default)]
    pub appearance: bool,
    /// Store the pictures of people (`crop`, `image`) edge nodes send in a person detection's
    /// metadata. Off by default: they are shown live and not kept.
    #[serde(default)]
    pub crops: bool,
    /// With `crops`, stored pictures are removed from their detections this many days after
    /// they were taken (0: kept as long as the detections).
    #[serde(default = "default_crops_days")]
    pub crops_days: u32,
}

impl Default for RecordEntry {
    fn default() -> Self {
        Self {
            autostart: true,
            point_every_s: default_point_every(),
            trajectory_days: default_trajectory_days(),
            appearance: false,
            crops: false,
            crops_days: default_crops_days(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_point_every() -> f64 {
    0.5
}

fn default_trajectory_days() -> u32 {
    30
}

fn default_crops_days() -> u32 {
    7
}

/// One camera, with its floor calibration. Its people come either from an edge node's
/// detections (`node` and `stream`) or from video the server decodes itself (`source`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraEntry {
    pub id: u32,
    /// The edge node that reports its detections, and the node's `stream_id` for it.
    #[serde(default)]
    pub node: String,
    #[serde(default)]
    pub stream: String,
    /// Or: a video file or a stream URL (`rtsp://…`), decoded and searched for people here
    /// (a build with the `video` feature).
    #[serde(default)]
    pub source: Option<String>,
    /// With `source`: how people are found, and how often.
    #[serde(default)]
    pub video: VideoEntry,
    /// Frames a second the tracker runs at; with `source`, also the most taken from it.
    #[serde(default = "default_fps")]
    pub fps: f64,
    /// Region of interest: a polygon in image pixels; people standing outside it are not
    /// tracked (their foot point decides).
    #[serde(default)]
    pub roi: Option<Vec<[f64; 2]>>,
    /// Frame width and height in pixels: scales boxes the node sends normalised, and a box
    /// touching the frame's edge is not taken as a clear view of a person's appearance.
    #[serde(default)]
    pub size: Option<[u32; 2]>,
    #[serde(default)]
    pub calibration: CalibrationSpec,
    /// An OpenCV `FileStorage` file (YAML or XML, as `calibrateCamera`/`solvePnP` users save
    /// them): camera_matrix, distortion, R or rvec, tvec, and/or H. Values given in
    /// `calibration` take precedence.
    #[serde(default)]
    pub calibration_file: Option<std::path::PathBuf>,
}

impl CameraEntry {
    /// The calibration: `calibration`, completed from `calibration_file` when one is named.
    pub fn calibration_spec(&self) -> Result<CalibrationSpec, String> {
        let Some(path) = &self.calibration_file else {
            return Ok(self.calibration.clone());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("calibration_file {}: {e}", path.display()))?;
        let file = urbanstream_vision::filestorage::calibration_from_text(&text)
            .map_err(|e| format!("calibration_file {}: {e}", path.display()))?;
        let c = &self.calibration;
        Ok(CalibrationSpec {
            k: c.k.or(file.k),
            r: c.r.or(if c.rvec.is_some() { None } else { file.r }),
            rvec: c.rvec.or(if c.r.is_some() { None } else { file.rvec }),
            t: c.t.or(file.t),
            dist: c.dist.clone().or(file.dist),
            h_img_to_floor: c.h_img_to_floor.or(file.h_img_to_floor),
            points: c.points.clone(),
            size: c.size,
            fps: c.fps,
        })
    }
}

fn default_fps() -> f64 {
    10.0
}

/// How a camera with a video `source` finds people and shows its picture.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct VideoEntry {
    /// `hog` (OpenCV's people detector, no model file) or `torchscript:PATH`.
    #[serde(default = "default_detector")]
    pub detector: String,
    /// `colour` (per-stripe colour histograms, no model file) or `torchscript:PATH` (a
    /// re-identification model; its thresholds are `cameras.tracker.appearance_gate` and
    /// `cameras.fusion.appearance_veto`).
    #[serde(default = "default_embedder")]
    pub embedder: String,
    /// Detect on every n-th frame; the tracker predicts across the others.
    #[serde(default = "default_one")]
    pub detect_every: u32,
    /// Frames are scaled by this before detection (above 1 finds people smaller than HOG's
    /// 64 × 128 window).
    #[serde(default = "default_scale")]
    pub detect_scale: f64,
    /// A file starts again at its end.
    #[serde(default)]
    pub repeat: bool,
    /// Pictures with the tracks drawn over them for WebSocket viewers (`camera:{id}`): at
    /// most this many a second (0: none), this wide and about this many bytes each.
    #[serde(default = "default_picture_fps")]
    pub picture_fps: f64,
    #[serde(default = "default_picture_width")]
    pub picture_width: u32,
    #[serde(default = "default_picture_bytes")]
    pub picture_bytes: usize,
}

impl Default for VideoEntry {
    fn default() -> Self {
        Self {
            detector: default_detector(),
            embedder: default_embedder(),
            detect_every: 1,
            detect_scale: default_scale(),
            repeat: false,
            picture_fps: default_picture_fps(),
            picture_width: default_picture_width(),
            picture_bytes: default_picture_bytes(),
        }
    }
}

fn default_detector() -> String {
    "hog".into()
}

fn default_embedder() -> String {
    "colour".into()
}

fn default_one() -> u32 {
    1
}

fn default_scale() -> f64 {
    1.0
}

fn default_picture_fps() -> f64 {
    5.0
}

fn default_picture_width() -> u32 {
    640
}

fn default_picture_bytes() -> usize {
    40_000
}

impl CamerasSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, message: String| ConfigError::Invalid { key, message };
        self.tracker
            .validate()
            .map_err(|m| invalid("cameras.tracker", m))?;
        self.fusion
            .validate()
            .map_err(|m| invalid("cameras.fusion", m))?;
        if !(self.record.point_every_s >= 0.0 && self.record.point_every_s <= 60.0) {
            return Err(invalid(
                "cameras.record.point_every_s",
                "must be within [0, 60] seconds".into(),
            ));
        }
        let e = &self.environment;
        if e.id.trim().is_empty() || !(e.width_m >= 0.0 && e.height_m >= 0.0) {
            return Err(invalid(
                "cameras.environment",
                "needs an id and a floor size of 0 or more metres".into(),
            ));
        }
        let mut ids = std::collections::HashSet::new();
        let mut streams = std::collections::HashSet::new();
        for c in &self.list {
            if !ids.insert(c.id) {
                return Err(invalid(
                    "cameras.list",
                    format!("camera id {} is used twice", c.id),
                ));
            }
            let from_node = !c.node.is_empty() || !c.stream.is_empty();
            match (&c.source, from_node) {
                (Some(_), true) => {
                    return Err(invalid(
                        "cameras.list",
                        format!(
                            "camera {}: give either `source` (video) or `node` and `stream` (an edge node's detections), not both",
                            c.id
                        ),
                    ))
                }
                (None, false) => {
                    return Err(invalid(
                        "cameras.list",
                        format!(
                            "camera {}: needs `node` and `stream` (an edge node's detections) or `source` (a video file or URL)",
                            c.id
                        ),
                    ))
                }
                (Some(src), false) if src.trim().is_empty() => {
                    return Err(invalid(
                        "cameras.list",
                        format!("camera {}: `source` is empty", c.id),
                    ))
                }
                _ => {}
            }
            if from_node && (c.node.is_empty() || c.stream.is_empty()) {
                return Err(invalid(
                    "cameras.list",
                    format!("camera {}: needs both `node` and `stream`", c.id),
                ));
            }
            let v = &c.video;
            if !(v.detector == "hog" || v.detector.starts_with("torchscript:"))
                || !(v.embedder == "colour" || v.embedder.starts_with("torchscript:"))
                || v.detect_every == 0
                || !(v.detect_scale > 0.0 && v.detect_scale <= 8.0)
                || !(0.0..=30.0).contains(&v.picture_fps)
                || !(64..=4096).contains(&v.picture_width)
                || v.picture_bytes < 1000
            {
                return Err(invalid(
                    "cameras.list",
                    format!(
                        "camera {}: video: detector is `hog` or `torchscript:PATH`, embedder `colour` or `torchscript:PATH`, detect_every ≥ 1, detect_scale in (0, 8], picture_fps in [0, 30], picture_width in [64, 4096], picture_bytes ≥ 1000",
                        c.id
                    ),
                ));
            }
            if let Some(roi) = &c.roi {
                if roi.len() < 3 || roi.iter().flatten().any(|v| !v.is_finite()) {
                    return Err(invalid(
                        "cameras.list",
                        format!(
                            "camera {}: roi needs three or more finite [x, y] pixel points",
                            c.id
                        ),
                    ));
                }
            }
            if from_node && !streams.insert((c.node.as_str(), c.stream.as_str())) {
                return Err(invalid(
                    "cameras.list",
                    format!(
                        "node {} stream {} is given to two cameras",
                        c.node, c.stream
                    ),
                ));
            }
            if !(c.fps > 0.0 && c.fps <= 1000.0) {
                return Err(invalid(
                    "cameras.list",
                    format!("camera {}: fps must be within (0, 1000]", c.id),
                ));
            }
            let spec = c
                .calibration_spec()
                .map_err(|e| invalid("cameras.list", format!("camera {}: {e}", c.id)))?;
            FloorCalibration::from_spec(&spec).map_err(|e| {
                invalid("cameras.list", format!("camera {}: calibration: {e}", c.id))
            })?;
        }
        Ok(())
    }
}
