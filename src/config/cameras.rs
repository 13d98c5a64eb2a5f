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
    /// Trajectory points older than this many days are deleted (0 keeps them).
    #[serde(default = "default_trajectory_days")]
    pub trajectory_days: u32,
}

impl Default for RecordEntry {
    fn default() -> Self {
        Self {
            autostart: true,
            point_every_s: default_point_every(),
            trajectory_days: default_trajectory_days(),
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

/// One camera: a stream of an edge node, with its floor calibration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraEntry {
    pub id: u32,
    /// The edge node that reports its detections, and the node's `stream_id` for it.
    pub node: String,
    pub stream: String,
    #[serde(default = "default_fps")]
    pub fps: f64,
    /// Frame width and height in pixels: scales boxes the node sends normalised.
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
            if !streams.insert((c.node.as_str(), c.stream.as_str())) {
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
