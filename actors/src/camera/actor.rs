use actix::prelude::*;
use urbanstream_vision::fusion::{CameraId, Observation};
use urbanstream_vision::geometry::FloorCalibration;
use urbanstream_vision::offline::foot_on_floor;
use urbanstream_vision::tracker::{iou, suppress, Detection, Tracker, TrackerConfig};

use crate::metrics::CAMERA_FRAMES_TOTAL;
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

#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
#[rtype(result = "Result<CameraState, String>")]
pub enum CameraCommand {
    Start,
    Pause,
    Resume,
    Stop,
    /// The source failed (decoder error, stream gone): the camera waits for a start.
    Fail,
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
    calibration: FloorCalibration,
    tracker_cfg: TrackerConfig,
    tracker: Tracker,
    /// Time of the first frame of this run: frame numbers count from it.
    origin: Option<f64>,
    last_frame: u64,
    frames: u64,
    dropped: u64,
    fusion: Recipient<FuseObservations>,
}

impl CameraActor {
    pub fn new(
        id: CameraId,
        fps: f64,
        calibration: FloorCalibration,
        tracker_cfg: TrackerConfig,
        fusion: Recipient<FuseObservations>,
    ) -> Self {
        let fps = if fps > 0.0 && fps.is_finite() {
            fps
        } else {
            10.0
        };
        Self {
            id,
            state: CameraState::Stopped,
            fps,
            calibration,
            tracker: Tracker::new(tracker_cfg.clone(), fps),
            tracker_cfg,
            origin: None,
            last_frame: 0,
            frames: 0,
            dropped: 0,
            fusion,
        }
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
        let dets = suppress(msg.detections, 0.7, self.tracker_cfg.low_score, None);
        let boxes: Vec<[f64; 4]> = dets.iter().map(|d| d.bbox).collect();
        let observations = self
            .tracker
            .update(frame, &dets)
            .into_iter()
            .filter_map(|o| {
                let (floor, floor_var) = foot_on_floor(&self.calibration, o.bbox, 0.0)?;
                let clear = boxes
                    .iter()
                    .enumerate()
                    .all(|(j, b)| j == o.detection || iou(*b, boxes[o.detection]) < 0.05);
                Some(Observation {
                    camera: self.id,
                    track: o.id,
                    floor,
                    floor_var,
                    embedding: dets[o.detection].embedding.clone(),
                    clear,
                })
            })
            .collect();
        let _ = self.fusion.try_send(FuseObservations {
            camera: self.id,
            time_s: msg.time_s,
            observations,
        });
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
            (_, CameraCommand::Fail) => Failed,
            (s, c) => return Err(format!("a {s:?} camera cannot {c:?}").to_lowercase()),
        };
        if matches!(next, Stopped | Failed)
            || (self.state != Running && next == Running && cmd == CameraCommand::Start)
        {
            // A new run starts with no tracks and its own clock.
            self.tracker = Tracker::new(self.tracker_cfg.clone(), self.fps);
            self.origin = None;
            self.last_frame = 0;
        }
        self.state = next;
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
            dropped: self.dropped,
            live_tracks: self.tracker.live_tracks(),
        }
    }
}
