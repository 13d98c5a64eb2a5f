//! Offline runs of the camera pipeline: recorded detections (a scene's files, a detection
//! file, a video's detector output) fed through the same camera actors and ReID fusion
//! aggregator that serve live cameras, on the recording's own clock. The run waits for each
//! actor to take each frame before it sends the next, and the fusion steps on the frames'
//! time stamps alone, so a run's results are the same however fast the machine is.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use actix::prelude::*;
use urbanstream_vision::fusion::{CameraId, GlobalId};
use urbanstream_vision::mot::{by_frame, DetRow, Matrix32};
use urbanstream_vision::offline::{
    camera_centre, fill_gaps, frame_detections, scene_instants, BoxRow, MtmcAssembler, MtmcResult,
    OfflineConfig, SceneCamera, SceneError,
};
use urbanstream_vision::tracker::Detection;

use crate::camera::{CameraActor, CameraCommand, CameraDetections, CameraFrame};
use crate::reid::{
    FlushFusion, FusionSync, ReidFusionActor, ResolveIdentities, SetCameraCentre, Snapshot,
    TrackingUpdate,
};

/// Frames sent between two waits for the actors downstream to catch up: their mailboxes
/// (16 messages) never fill, so nothing is dropped for being sent too fast.
const SYNC_EVERY: usize = 4;

/// What a run's actors reported, in the order it arrived.
#[derive(Debug)]
enum Reported {
    Frame(CameraFrame),
    Step(TrackingUpdate),
}

/// Keeps what the cameras and the fusion report.
#[derive(Default)]
struct Recorder {
    log: Vec<Reported>,
}

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<CameraFrame> for Recorder {
    type Result = ();
    fn handle(&mut self, msg: CameraFrame, _: &mut Self::Context) {
        self.log.push(Reported::Frame(msg));
    }
}

impl Handler<TrackingUpdate> for Recorder {
    type Result = ();
    fn handle(&mut self, msg: TrackingUpdate, _: &mut Self::Context) {
        self.log.push(Reported::Step(msg));
    }
}

/// Hands over (and clears) what was reported so far.
#[derive(Message)]
#[rtype(result = "Vec<Reported>")]
struct TakeLog;

impl Handler<TakeLog> for Recorder {
    type Result = MessageResult<TakeLog>;
    fn handle(&mut self, _: TakeLog, _: &mut Self::Context) -> Self::Result {
        MessageResult(std::mem::take(&mut self.log))
    }
}

fn stopped(what: &str) -> impl Fn(MailboxError) -> SceneError + '_ {
    move |e| SceneError::Config(format!("the {what} actor stopped during the run: {e}"))
}

/// Runs a scene (see `urbanstream_vision::offline::load_scene`) through one camera actor per
/// camera and the fusion aggregator. Must be called inside an actix system.
pub async fn run_mtmc(cams: &[SceneCamera], cfg: &OfflineConfig) -> Result<MtmcResult, SceneError> {
    cfg.validate()?;
    let recorder = Recorder::default().start();
    let fusion = ReidFusionActor::new(cfg.fusion.clone(), vec![recorder.clone().recipient()])
        .on_input_clock()
        .start();
    let mut cameras = Vec::with_capacity(cams.len());
    for cam in cams {
        if let Some(centre) = cam.embeddings.as_ref().and_then(camera_centre) {
            fusion
                .send(SetCameraCentre {
                    camera: cam.id,
                    centre,
                })
                .await
                .map_err(stopped("fusion"))?;
        }
        let actor = CameraActor::new(
            cam.id,
            cam.fps,
            cam.calibration.clone(),
            cfg.tracker.clone(),
            fusion.clone().recipient(),
        )
        .with_frame_size(cam.size)
        .with_body_radius(cfg.body_radius_m)
        .with_suppression(None)
        .with_frames_to(recorder.clone().recipient())
        .start();
        start_camera(&actor).await?;
        cameras.push(actor);
    }

    let ref_fps = cams.first().map_or(10.0, |c| c.fps);
    let mut assembler = MtmcAssembler::new(cfg, ref_fps);
    let mut identities: BTreeSet<GlobalId> = BTreeSet::new();
    let mut take = |log: Vec<Reported>, assembler: &mut MtmcAssembler| {
        for r in log {
            match r {
                Reported::Frame(f) => {
                    assembler.frame(f.camera, f.frame, f.time_s, f.detections, &f.people)
                }
                Reported::Step(u) => {
                    let seen: HashMap<(CameraId, u64), GlobalId> = u
                        .identities
                        .iter()
                        .flat_map(|i| i.cameras.iter().map(move |&c| (c, i.global_id)))
                        .collect();
                    identities.extend(u.identities.iter().map(|i| i.global_id));
                    assembler.step(u.time_s, &seen, &u.events);
                }
            }
        }
    };

    let mut since_sync = 0;
    for (t_us, members) in scene_instants(cams) {
        let time_s = t_us as f64 / 1e6;
        for (ci, _frame, rows) in members {
            let detections = frame_detections(cams[ci].embeddings.as_ref(), &rows);
            cameras[ci]
                .send(CameraDetections { time_s, detections })
                .await
                .map_err(stopped("camera"))?;
            since_sync += 1;
            if since_sync >= SYNC_EVERY {
                since_sync = 0;
                fusion.send(FusionSync).await.map_err(stopped("fusion"))?;
                take(
                    recorder.send(TakeLog).await.map_err(stopped("recorder"))?,
                    &mut assembler,
                );
            }
        }
    }
    fusion.send(FlushFusion).await.map_err(stopped("fusion"))?;
    let snapshot = fusion.send(Snapshot).await.map_err(stopped("fusion"))?;
    take(
        recorder.send(TakeLog).await.map_err(stopped("recorder"))?,
        &mut assembler,
    );

    let resolved: HashMap<GlobalId, GlobalId> = fusion
        .send(ResolveIdentities(identities.into_iter().collect()))
        .await
        .map_err(stopped("fusion"))?
        .into_iter()
        .collect();
    let learnt: HashMap<CameraId, (f64, f64)> = snapshot.offsets.into_iter().collect();
    let offsets: BTreeMap<CameraId, (f64, f64)> = cams
        .iter()
        .map(|c| (c.id, learnt.get(&c.id).copied().unwrap_or((0.0, 0.0))))
        .collect();
    let rates: Vec<(CameraId, f64)> = cams.iter().map(|c| (c.id, c.fps)).collect();
    Ok(assembler.finish(&rates, offsets, |id| {
        resolved.get(&id).copied().unwrap_or(id)
    }))
}

async fn start_camera(camera: &Addr<CameraActor>) -> Result<(), SceneError> {
    camera
        .send(CameraCommand::Start)
        .await
        .map_err(stopped("camera"))?
        .map(|_| ())
        .map_err(SceneError::Config)
}

/// One camera tracked on its own (no floor, no fusion) through a camera actor, fed frame by
/// frame: a detection file, or a video's detector output.
pub struct SingleCameraRun {
    camera: Addr<CameraActor>,
    recorder: Addr<Recorder>,
    fps: f64,
    fill_gaps_s: f64,
    since_sync: usize,
    per: BTreeMap<u64, Vec<(u64, [f64; 4], f64)>>,
}

impl SingleCameraRun {
    /// Its sources have suppressed overlapping boxes already (a detector's output, a
    /// detection file): the camera does not suppress again.
    pub async fn start(fps: f64, cfg: &OfflineConfig) -> Result<Self, SceneError> {
        cfg.validate()?;
        let recorder = Recorder::default().start();
        let camera = CameraActor::tracker_only(0, fps, cfg.tracker.clone())
            .with_suppression(None)
            .with_frames_to(recorder.clone().recipient())
            .start();
        start_camera(&camera).await?;
        Ok(Self {
            camera,
            recorder,
            fps,
            fill_gaps_s: cfg.fill_gaps_s,
            since_sync: 0,
            per: BTreeMap::new(),
        })
    }

    /// Frame `frame` (from 1) and its detections.
    pub async fn feed(&mut self, frame: u64, detections: Vec<Detection>) -> Result<(), SceneError> {
        let time_s = frame.saturating_sub(1) as f64 / self.fps;
        self.camera
            .send(CameraDetections { time_s, detections })
            .await
            .map_err(stopped("camera"))?;
        self.since_sync += 1;
        if self.since_sync >= SYNC_EVERY {
            self.since_sync = 0;
            self.take().await?;
        }
        Ok(())
    }

    /// What the camera reported of the frames fed so far (each `feed` returned once the
    /// camera had taken its frame, so its report is already in the recorder's mailbox).
    async fn take(&mut self) -> Result<(), SceneError> {
        for r in self
            .recorder
            .send(TakeLog)
            .await
            .map_err(stopped("recorder"))?
        {
            if let Reported::Frame(f) = r {
                for p in f.people {
                    self.per
                        .entry(p.track)
                        .or_default()
                        .push((f.frame, p.bbox, p.score));
                }
            }
        }
        Ok(())
    }

    /// Every track's rows, short gaps filled.
    pub async fn finish(mut self) -> Result<Vec<BoxRow>, SceneError> {
        self.take().await?;
        let max_gap = (self.fill_gaps_s * self.fps).round() as u64;
        Ok(fill_gaps(std::mem::take(&mut self.per), max_gap))
    }
}

/// One camera's detection file (MOTChallenge rows, optional appearance vectors row by row)
/// through a camera actor.
pub async fn run_single(
    rows: &[DetRow],
    embeddings: Option<&Matrix32>,
    fps: f64,
    cfg: &OfflineConfig,
) -> Result<Vec<BoxRow>, SceneError> {
    let frames = by_frame(rows);
    let last = frames.keys().next_back().copied().unwrap_or(0);
    let mut run = SingleCameraRun::start(fps, cfg).await?;
    for k in 1..=last {
        let dets = frames
            .get(&k)
            .map(|r| frame_detections(embeddings, r))
            .unwrap_or_default();
        run.feed(k, dets).await?;
    }
    run.finish().await
}
