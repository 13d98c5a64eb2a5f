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
    pub calibration: CalibrationSpec,
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
            FloorCalibration::from_spec(&c.calibration).map_err(|e| {
                invalid("cameras.list", format!("camera {}: calibration: {e}", c.id))
            })?;
        }
        Ok(())
    }
}
