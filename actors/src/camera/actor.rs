use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use urbanstream_vision::fusion::{CameraId, Observation};
use urbanstream_vision::geometry::{polygon_contains, FloorCalibration};
use urbanstream_vision::offline::{clear_of, foot_on_floor, TrackedPerson};
use urbanstream_vision::tracker::{suppress, Detection, Tracker, TrackerConfig};

use crate::metrics::{CAMERA_DETECTIONS_OUTSIDE_TOTAL, CAMERA_FRAMES_TOTAL};
use crate::reid::FuseObservations;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    Stopped,
    Running,
    Paused,
    Failed,
}

/// One frame's detections, stamped with the frame's time on the site's clock.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct CameraDetections {
    pub time_s: f64,
    pub detections: Vec<Detection>,
}

/// One frame as the camera tracked it, for whoever records a run frame by frame (an offline
/// run's results).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct CameraFrame {
    pub camera: CameraId,
    /// Frame number of this run, from 1, on the camera's clock.
    pub frame: u64,
    pub time_s: f64,
    /// Boxes detected in the frame (after suppression and the region of interest).
    pub detections: usize,
    pub people: Vec<TrackedPerson>,
}

#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
#[rtype(result = "Result<CameraState, String>")]
pub enum CameraCommand {
    Start,
    Pause,
    Resume,
    Stop,
    /// The source failed (decoder error, stream gone): the camera waits for it to recover.
    Fail,
    /// The failed source is back: the camera returns to the state it failed in (a new run).
    Recover,
}

/// One tracked person's box in a frame, for drawing over the video.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackBox {
    pub id: u64,
    /// `[x, y, width, height]`, pixels.
    pub bbox: [f64; 4],
}

/// What a camera shares with its video source's threads: whether frames are wanted (the
/// camera is running) and the latest frame's tracks, to draw over the picture.
#[derive(Debug, Default)]
pub struct CameraTap {
    running: AtomicBool,
    tracks: Mutex<Vec<TrackBox>>,
    /// Frames the source took but detection never got to (it fell behind).
    skipped: AtomicU64,
}

impl CameraTap {
    /// A frame the source skipped because detection fell behind: the camera's status counts
    /// it as dropped.
    pub fn skip(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    pub fn running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// The tracks of the latest frame tracked.
    pub fn tracks(&self) -> Vec<TrackBox> {
        self.tracks.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// Whether a box's foot point (bottom centre) is inside the region of interest; no region
/// admits every box.
pub fn in_region(roi: Option<&[(f64, f64)]>, bbox: [f64; 4]) -> bool {
    roi.is_none_or(|p| polygon_contains(p, bbox[0] + bbox[2] / 2.0, bbox[1] + bbox[3]))
}

#[derive(Message)]
#[rtype(result = "CameraStatus")]
pub struct GetStatus;

#[derive(Debug, Clone, MessageResponse, serde::Serialize)]
pub struct CameraStatus {
    pub camera: CameraId,
    pub state: CameraState,
    pub frames: u64,
    /// Frames that arrived while the camera was not running, or out of time order.
    pub dropped: u64,
    pub live_tracks: usize,
}

pub struct CameraActor {
    id: CameraId,
    state: CameraState,
    fps: f64,
    /// Image → floor; none for a camera tracked on its own (people have no floor position).
    calibration: Option<FloorCalibration>,
    /// Frame size in pixels, where known: boxes touching the border are not clear views.
    frame_size: Option<[u32; 2]>,
    /// How far the middle of a person stands behind their box's bottom edge, metres.
    body_radius_m: f64,
    /// Non-maximum suppression of a frame's boxes above this overlap (none: the source has
    /// suppressed them).
    nms_iou: Option<f64>,
    tracker_cfg: TrackerConfig,
    tracker: Tracker,
    /// Time of the first frame of this run: frame numbers count from it.
    origin: Option<f64>,
    last_frame: u64,
    frames: u64,
    dropped: u64,
    fusion: Option<Recipient<FuseObservations>>,
    frames_to: Option<Recipient<CameraFrame>>,
    /// Image region (pixels) whose people are tracked; boxes standing outside are dropped.
    roi: Option<Vec<(f64, f64)>>,
    tap: Option<Arc<CameraTap>>,
    /// The state a failure interrupted, returned to on recovery.
    failed_in: Option<CameraState>,
}

impl CameraActor {
    pub fn new(
        id: CameraId,
        fps: f64,
        calibration: FloorCalibration,
        tracker_cfg: TrackerConfig,
        fusion: Recipient<FuseObservations>,
    ) -> Self {
        let mut camera = Self::tracker_only(id, fps, tracker_cfg);
        camera.calibration = Some(calibration);
        camera.fusion = Some(fusion);
        camera
    }

    /// A camera tracked on its own: no floor, no fusion; its frames go to
    /// [`Self::with_frames_to`].
    pub fn tracker_only(id: CameraId, fps: f64, tracker_cfg: TrackerConfig) -> Self {
        let fps = if fps > 0.0 && fps.is_finite() {
            fps
        } else {
            10.0
        };
        Self {
            id,
            state: CameraState::Stopped,
            fps,
            calibration: None,
            frame_size: None,
            body_radius_m: 0.0,
            nms_iou: Some(0.7),
            tracker: Tracker::new(tracker_cfg.clone(), fps),
            tracker_cfg,
            origin: None,
            last_frame: 0,
            frames: 0,
            dropped: 0,
            fusion: None,
            frames_to: None,
            roi: None,
            tap: None,
            failed_in: None,
        }
    }

    /// Tracks only people standing inside `polygon` (image pixels).
    pub fn with_region(mut self, polygon: Option<Vec<(f64, f64)>>) -> Self {
        self.roi = polygon.filter(|p| p.len() >= 3);
        self
    }

    /// The frame size (pixels), where the source knows it.
    pub fn with_frame_size(mut self, size: Option<[u32; 2]>) -> Self {
        self.frame_size = size;
        self
    }

    /// Half a person's depth, metres (see `foot_on_floor`).
    pub fn with_body_radius(mut self, metres: f64) -> Self {
        self.body_radius_m = metres.max(0.0);
        self
    }

    /// Suppression of overlapping boxes above `iou` (default 0.7); `None` for sources that
    /// suppress their own, such as detection files.
    pub fn with_suppression(mut self, iou: Option<f64>) -> Self {
        self.nms_iou = iou;
        self
    }

    /// Every tracked frame also goes to `to`.
    pub fn with_frames_to(mut self, to: Recipient<CameraFrame>) -> Self {
        self.frames_to = Some(to);
        self
    }

    /// Shares the camera's state and latest tracks with its video source.
    pub fn with_tap(mut self, tap: Arc<CameraTap>) -> Self {
        self.tap = Some(tap);
        self
    }

    fn drop_frame(&mut self, reason: &'static str) {
        self.dropped += 1;
        metrics::counter!(CAMERA_FRAMES_TOTAL, "outcome" => reason).increment(1);
    }
}

impl Actor for CameraActor {
    type Context = Context<Self>;
}

impl Handler<CameraDetections> for CameraActor {
    type Result = ();

    fn handle(&mut self, msg: CameraDetections, _ctx: &mut Self::Context) {
        if self.state != CameraState::Running {
            return self.drop_frame("not_running");
        }
        if !msg.time_s.is_finite() {
            return self.drop_frame("bad_time");
        }
        let origin = *self.origin.get_or_insert(msg.time_s);
        // Frame numbers from the clock: a gap (a dropped or skipped frame) advances the filters.
        let frame = ((msg.time_s - origin) * self.fps).round().max(0.0) as u64 + 1;
        if frame <= self.last_frame {
            return self.drop_frame("out_of_order");
        }
        self.last_frame = frame;
        self.frames += 1;
        metrics::counter!(CAMERA_FRAMES_TOTAL, "outcome" => "tracked").increment(1);
        let mut dets = match self.nms_iou {
            Some(limit) => suppress(msg.detections, limit, self.tracker_cfg.low_score, None),
            None => msg.detections,
        };
        if self.roi.is_some() {
            let before = dets.len();
            dets.retain(|d| in_region(self.roi.as_deref(), d.bbox));
            let outside = (before - dets.len()) as u64;
            if outside > 0 {
                metrics::counter!(CAMERA_DETECTIONS_OUTSIDE_TOTAL).increment(outside);
            }
        }
        let boxes: Vec<[f64; 4]> = dets.iter().map(|d| d.bbox).collect();
        let tracked = self.tracker.update(frame, &dets);
        if let Some(tap) = &self.tap {
            if let Ok(mut t) = tap.tracks.lock() {
                t.clear();
                t.extend(tracked.iter().map(|o| TrackBox {
                    id: o.id,
                    bbox: o.bbox,
                }));
            }
        }
        let mut people = Vec::with_capacity(tracked.len());
        let mut observations = Vec::with_capacity(tracked.len());
        for o in tracked {
            let floor = self
                .calibration
                .as_ref()
                .and_then(|c| foot_on_floor(c, o.bbox, self.body_radius_m));
            people.push(TrackedPerson {
                track: o.id,
                bbox: o.bbox,
                score: o.score,
                floor,
            });
            if let Some((floor, floor_var)) = floor {
                observations.push(Observation {
                    camera: self.id,
                    track: o.id,
                    floor,
                    floor_var,
                    embedding: dets[o.detection].embedding.clone(),
                    clear: clear_of(&boxes, o.detection, self.frame_size),
                });
            }
        }
        if let Some(fusion) = &self.fusion {
            let _ = fusion.try_send(FuseObservations {
                camera: self.id,
                time_s: msg.time_s,
                observations,
            });
        }
        if let Some(to) = &self.frames_to {
            let _ = to.try_send(CameraFrame {
                camera: self.id,
                frame,
                time_s: msg.time_s,
                detections: dets.len(),
                people,
            });
        }
    }
}

impl Handler<CameraCommand> for CameraActor {
    type Result = Result<CameraState, String>;

    fn handle(&mut self, cmd: CameraCommand, _ctx: &mut Self::Context) -> Self::Result {
        use CameraState::*;
        let next = match (self.state, cmd) {
            (Stopped | Failed, CameraCommand::Start) => Running,
            (Running, CameraCommand::Pause) => Paused,
            (Paused, CameraCommand::Resume) => Running,
            (_, CameraCommand::Stop) => Stopped,
            (Failed, CameraCommand::Fail) => Failed,
            (s, CameraCommand::Fail) => {
                self.failed_in = Some(s);
                Failed
            }
            (Failed, CameraCommand::Recover) => self.failed_in.take().unwrap_or(Stopped),
            (s, c) => return Err(format!("a {s:?} camera cannot {c:?}").to_lowercase()),
        };
        if cmd == CameraCommand::Stop {
            self.failed_in = None;
        }
        if matches!(next, Stopped | Failed)
            || (self.state != Running
                && next == Running
                && matches!(cmd, CameraCommand::Start | CameraCommand::Recover))
        {
            // A new run starts with no tracks and its own clock.
            self.tracker = Tracker::new(self.tracker_cfg.clone(), self.fps);
            self.origin = None;
            self.last_frame = 0;
        }
        self.state = next;
        if let Some(tap) = &self.tap {
            tap.running.store(next == Running, Ordering::Relaxed);
        }
        if let Some(tap) = self.tap.as_ref().filter(|_| next != Running) {
            if let Ok(mut t) = tap.tracks.lock() {
                t.clear();
            }
        }
        Ok(next)
    }
}

impl Handler<GetStatus> for CameraActor {
    type Result = CameraStatus;

    fn handle(&mut self, _: GetStatus, _ctx: &mut Self::Context) -> CameraStatus {
        CameraStatus {
            camera: self.id,
            state: self.state,
            frames: self.frames,
            dropped: self.dropped
                + self
                    .tap
                    .as_ref()
                    .map_or(0, |t| t.skipped.load(Ordering::Relaxed)),
            live_tracks: self.tracker.live_tracks(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::in_region;

    #[test]
    fn a_box_counts_where_its_feet_are() {
        let floor_half = [(0.0, 300.0), (640.0, 300.0), (640.0, 480.0), (0.0, 480.0)];
        // Feet at (120, 400): inside; the same person higher up, feet at (120, 250): outside.
        assert!(in_region(Some(&floor_half), [100.0, 200.0, 40.0, 200.0]));
        assert!(!in_region(Some(&floor_half), [100.0, 50.0, 40.0, 200.0]));
        assert!(in_region(None, [100.0, 50.0, 40.0, 200.0]));
    }
}
