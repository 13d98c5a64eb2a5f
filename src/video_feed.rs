//! Video cameras under `serve`: a camera with a `source` gets the video adapter's decoding
//! and detection threads, feeding its camera actor; its pictures go to the camera's feed.

use std::sync::Arc;

use actix::prelude::*;
use urbanstream_actors::camera::{CameraActor, CameraTap};

use crate::config::CameraEntry;

/// The threads of one video camera; dropping the box stops them.
pub type VideoHandle = Box<dyn std::any::Any + Send + Sync>;

#[cfg(not(feature = "video"))]
pub fn start(
    c: &CameraEntry,
    source: &str,
    _camera: Addr<CameraActor>,
    _tap: Arc<CameraTap>,
    _feed: tokio::sync::watch::Sender<Option<bytes::Bytes>>,
) -> anyhow::Result<VideoHandle> {
    anyhow::bail!(
        "camera {} reads video ({source}), but this build has no video support: build with `--features video` (needs libopencv-dev, clang and libclang-dev), or feed the camera from an edge node (`node`, `stream`)",
        c.id
    )
}

#[cfg(feature = "video")]
pub use with_video::start;

#[cfg(feature = "video")]
mod with_video {
    use super::*;
    use urbanstream_actors::camera::{CameraCommand, CameraDetections};
    use urbanstream_actors::metrics::{
        CAMERA_DETECT_SECONDS, CAMERA_FRAMES_ENCODED_TOTAL, CAMERA_FRAMES_TOTAL,
    };
    use urbanstream_video::live::{spawn, LiveOptions, LiveSink};
    use urbanstream_video::DetectorSpec;
    use urbanstream_vision::tracker::Detection;

    struct Sink {
        id: u32,
        camera: Addr<CameraActor>,
        tap: Arc<CameraTap>,
        feed: tokio::sync::watch::Sender<Option<bytes::Bytes>>,
        label: String,
    }

    impl LiveSink for Sink {
        fn running(&self) -> bool {
            self.tap.running()
        }

        fn detections(&self, time_s: f64, detections: Vec<Detection>) {
            if self
                .camera
                .try_send(CameraDetections { time_s, detections })
                .is_err()
            {
                metrics::counter!(CAMERA_FRAMES_TOTAL, "outcome" => "mailbox_full").increment(1);
                self.tap.skip();
            }
        }

        fn detect_seconds(&self, seconds: f64) {
            metrics::histogram!(CAMERA_DETECT_SECONDS, "camera" => self.label.clone())
                .record(seconds);
        }

        fn watched(&self) -> bool {
            self.feed.receiver_count() > 0
        }

        fn overlay(&self) -> Vec<(u64, [f64; 4])> {
            self.tap
                .tracks()
                .into_iter()
                .map(|t| (t.id, t.bbox))
                .collect()
        }

        fn picture(&self, time_s: f64, jpeg: Vec<u8>) {
            let mut out = Vec::with_capacity(12 + jpeg.len());
            out.extend_from_slice(&self.id.to_be_bytes());
            out.extend_from_slice(&((time_s * 1000.0).round() as i64).to_be_bytes());
            out.extend_from_slice(&jpeg);
            self.feed.send_replace(Some(bytes::Bytes::from(out)));
            metrics::counter!(CAMERA_FRAMES_ENCODED_TOTAL).increment(1);
        }

        fn dropped(&self, reason: &'static str) {
            metrics::counter!(CAMERA_FRAMES_TOTAL, "outcome" => reason).increment(1);
            if reason == "skipped_load" {
                self.tap.skip();
            }
        }

        fn failed(&self, why: &str) {
            tracing::warn!(camera = self.id, "video source failed: {why}; retrying");
            self.camera.do_send(CameraCommand::Fail);
        }

        fn recovered(&self) {
            tracing::info!(camera = self.id, "video source is back");
            self.camera.do_send(CameraCommand::Recover);
        }
    }

    pub fn start(
        c: &CameraEntry,
        source: &str,
        camera: Addr<CameraActor>,
        tap: Arc<CameraTap>,
        feed: tokio::sync::watch::Sender<Option<bytes::Bytes>>,
    ) -> anyhow::Result<VideoHandle> {
        let detector = DetectorSpec::parse(&c.video.detector)
            .map_err(|e| anyhow::anyhow!("camera {}: {e}", c.id))?;
        let opts = LiveOptions {
            source: source.to_owned(),
            detector,
            detect_every: u64::from(c.video.detect_every),
            detect_scale: c.video.detect_scale,
            max_fps: c.fps,
            repeat: c.video.repeat,
            min_score: 0.1,
            picture_fps: c.video.picture_fps,
            picture_width: c.video.picture_width,
            picture_bytes: c.video.picture_bytes,
        };
        let sink = Sink {
            id: c.id,
            camera,
            tap,
            feed,
            label: c.id.to_string(),
        };
        let live =
            spawn(opts, Arc::new(sink)).map_err(|e| anyhow::anyhow!("camera {}: {e}", c.id))?;
        tracing::info!(camera = c.id, source, "video camera started");
        Ok(Box::new(live))
    }
}
