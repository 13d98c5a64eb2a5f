//! Video cameras under `serve`: a camera with a `source` gets the video adapter's decoding
//! and detection threads, feeding its camera actor; its pictures go to the camera's feed.

use std::sync::Arc;

use actix::prelude::*;
use urbanstream_actors::camera::{CameraActor, CameraTap};

use urbanstream_actors::db_batcher::Persist;

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
    _persist: Option<Recipient<Persist>>,
    _key: (String, String),
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
        ACTOR_MAILBOX_FULL_TOTAL, CAMERA_DETECT_SECONDS, CAMERA_FRAMES_ENCODED_TOTAL,
        CAMERA_FRAMES_TOTAL,
    };
    use urbanstream_schema::models::DetectionRow;
    use urbanstream_schema::store::Batch;
    use urbanstream_video::live::{spawn, LiveOptions, LiveSink};
    use urbanstream_video::{DetectorSpec, EmbedderSpec};
    use urbanstream_vision::tracker::Detection;

    struct Sink {
        id: u32,
        camera: Addr<CameraActor>,
        tap: Arc<CameraTap>,
        feed: tokio::sync::watch::Sender<Option<bytes::Bytes>>,
        label: String,
        /// Where its detections are stored (beside the edge nodes', for analytics).
        persist: Option<Recipient<Persist>>,
        key: (String, String),
    }

    impl Sink {
        fn store(&self, time_s: f64, detections: &[Detection]) {
            let Some(persist) = self.persist.as_ref().filter(|_| !detections.is_empty()) else {
                return;
            };
            let time_ms = (time_s * 1000.0).round() as i64;
            let now = chrono::Utc::now().timestamp_millis();
            let rows = detections
                .iter()
                .enumerate()
                .map(|(i, d)| DetectionRow {
                    node_id: self.key.0.clone(),
                    time_ms,
                    boot: 0,
                    seq: -1,
                    idx: i as i32,
                    received_ms: now,
                    stream_id: self.key.1.clone(),
                    object_type: "person".into(),
                    confidence: d.score,
                    bbox_x: d.bbox[0],
                    bbox_y: d.bbox[1],
                    bbox_width: d.bbox[2],
                    bbox_height: d.bbox[3],
                    bbox_normalized: false,
                    location: None,
                    metadata: "{}".into(),
                })
                .collect();
            let batch = Batch {
                detections: rows,
                ..Batch::default()
            };
            if persist.try_send(Persist(batch)).is_err() {
                metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "camera_detections")
                    .increment(1);
            }
        }
    }

    impl LiveSink for Sink {
        fn running(&self) -> bool {
            self.tap.running()
        }

        fn detections(&self, time_s: f64, detections: Vec<Detection>) {
            self.store(time_s, &detections);
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
        persist: Option<Recipient<Persist>>,
        key: (String, String),
    ) -> anyhow::Result<VideoHandle> {
        let detector = DetectorSpec::parse(&c.video.detector)
            .map_err(|e| anyhow::anyhow!("camera {}: {e}", c.id))?;
        let embedder = EmbedderSpec::parse(&c.video.embedder)
            .map_err(|e| anyhow::anyhow!("camera {}: {e}", c.id))?;
        let opts = LiveOptions {
            source: source.to_owned(),
            detector,
            embedder,
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
            persist,
            key,
        };
        let live =
            spawn(opts, Arc::new(sink)).map_err(|e| anyhow::anyhow!("camera {}: {e}", c.id))?;
        tracing::info!(camera = c.id, source, "video camera started");
        Ok(Box::new(live))
    }
}
