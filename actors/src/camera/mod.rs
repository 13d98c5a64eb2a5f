//! The entity of one fixed camera: its state (stopped → running → paused → failed), its
//! floor calibration and its people tracker. Its input is detections — from the video adapter
//! or from an edge node's messages; its output, each frame's tracked people on the floor, goes
//! to the ReID fusion aggregator.

mod actor;

pub use actor::{
    in_region, CameraActor, CameraCommand, CameraDetections, CameraFrame, CameraState,
    CameraStatus, CameraTap, GetStatus, TrackBox,
};

mod router;

pub use router::{CameraRoute, CameraRouter};
