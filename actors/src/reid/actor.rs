use std::time::{Duration, Instant};

use actix::prelude::*;
use urbanstream_vision::fusion::{
    CameraId, Fusion, FusionConfig, FusionEvent, GlobalId, Observation,
};

use crate::metrics::{REID_EVENTS_TOTAL, REID_OBSERVATIONS_TOTAL};

/// One camera's people at one instant (seconds on the site's clock).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct FuseObservations {
    pub camera: CameraId,
    pub time_s: f64,
    pub observations: Vec<Observation>,
}

/// One identity's place after a fusion step.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IdentityUpdate {
    pub global_id: u64,
    pub x_m: f64,
    pub y_m: f64,
    pub vx_mps: f64,
    pub vy_mps: f64,
    /// `(camera, local track)` pairs that saw it.
    pub cameras: Vec<(CameraId, u64)>,
    /// Its learnt appearance (unit length), where cameras sent appearance vectors.
    #[serde(skip)]
    pub appearance: Option<std::sync::Arc<[f32]>>,
}

/// What a fusion step tells subscribers (the hub, the batcher).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct TrackingUpdate {
    pub time_s: f64,
    pub identities: Vec<IdentityUpdate>,
    pub events: Vec<FusionEvent>,
}

/// Forgets every identity (a new tracking session): global ids count from 1 again.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct ResetFusion;

/// Fuses what has been collected for the latest instant now, without waiting for a later one
/// (the end of an offline run; a live site has its quiet timer).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct FlushFusion;

/// Answers once everything sent before it has been handled; fuses nothing.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct FusionSync;

/// A camera's mean appearance direction (its lighting and colour cast), taken out of its
/// vectors before they are compared with other cameras'.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct SetCameraCentre {
    pub camera: CameraId,
    pub centre: Vec<f32>,
}

/// The identity each of `ids` finally is, after every merge and re-entry so far.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Vec<(GlobalId, GlobalId)>")]
pub struct ResolveIdentities(pub Vec<GlobalId>);

/// Asks for the identities in the live set and each camera's learnt floor offset.
#[derive(Message)]
#[rtype(result = "ReidSnapshot")]
pub struct Snapshot;

#[derive(Debug, Clone, MessageResponse)]
pub struct ReidSnapshot {
    pub active: usize,
    pub remembered: usize,
    pub offsets: Vec<(CameraId, (f64, f64))>,
}

/// Collects cameras' observations for one instant and fuses them when a later instant
/// arrives (cameras of one site share a clock; a camera late by more than one instant is
/// fused with the next), or when the cameras have been quiet for a moment. While no camera
/// sends anything, the site's clock is carried on by the wall clock, so that people who left
/// every view are reported gone — unless it runs on its input's clock alone
/// ([`ReidFusionActor::on_input_clock`]), as offline runs do, so that their results do not
/// depend on how fast they run.
pub struct ReidFusionActor {
    cfg: FusionConfig,
    fusion: Fusion,
    pending_time: Option<f64>,
    pending_since: Option<Instant>,
    pending: Vec<Observation>,
    /// The site time of the last step and when (wall clock) it was taken.
    last_step: Option<(f64, Instant)>,
    cameras: Vec<CameraId>,
    subscribers: Vec<Recipient<TrackingUpdate>>,
    tick: Duration,
    quiet_after: Duration,
    /// Time comes from the input only: no quiet timer, no coasting on the wall clock.
    input_clock: bool,
}

impl ReidFusionActor {
    pub fn new(cfg: FusionConfig, subscribers: Vec<Recipient<TrackingUpdate>>) -> Self {
        Self {
            fusion: Fusion::new(cfg.clone()),
            cfg,
            pending_time: None,
            pending_since: None,
            pending: Vec::new(),
            last_step: None,
            cameras: Vec::new(),
            subscribers,
            tick: Duration::from_millis(250),
            quiet_after: Duration::from_millis(250),
            input_clock: false,
        }
    }

    /// Steps only when observations of a later instant arrive, or on [`FlushFusion`].
    pub fn on_input_clock(mut self) -> Self {
        self.input_clock = true;
        self
    }

    /// How often it looks for a quiet instant to fuse, and how quiet that is.
    pub fn with_timing(mut self, tick: Duration, quiet_after: Duration) -> Self {
        self.tick = tick;
        self.quiet_after = quiet_after;
        self
    }

    fn on_tick(&mut self) {
        if self.pending_time.is_some() {
            if self
                .pending_since
                .is_some_and(|s| s.elapsed() >= self.quiet_after)
            {
                self.flush();
            }
            return;
        }
        // Nothing arriving: step on the wall clock with no one seen, so identities coast and
        // then leave.
        if let Some((t, at)) = self.last_step {
            if self.fusion.active() > 0 && at.elapsed() >= self.quiet_after {
                self.pending_time = Some(t + at.elapsed().as_secs_f64());
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        let Some(t) = self.pending_time.take() else {
            return;
        };
        self.pending_since = None;
        self.last_step = Some((t, Instant::now()));
        let obs = std::mem::take(&mut self.pending);
        metrics::counter!(REID_OBSERVATIONS_TOTAL).increment(obs.len() as u64);
        let out = self.fusion.step(t, &obs);
        for e in &out.events {
            let kind = match e {
                FusionEvent::Appeared { .. } => "appeared",
                FusionEvent::Merged { .. } => "merged",
                FusionEvent::Split { .. } => "split",
                FusionEvent::Left { .. } => "left",
                FusionEvent::Reentered { .. } => "reentered",
            };
            metrics::counter!(REID_EVENTS_TOTAL, "kind" => kind).increment(1);
        }
        let update = TrackingUpdate {
            time_s: t,
            identities: out
                .identities
                .into_iter()
                .map(|i| IdentityUpdate {
                    global_id: i.identity,
                    x_m: i.position.0,
                    y_m: i.position.1,
                    vx_mps: i.velocity.0,
                    vy_mps: i.velocity.1,
                    cameras: i.seen_by,
                    appearance: self.fusion.appearance(i.identity).map(std::sync::Arc::from),
                })
                .collect(),
            events: out.events,
        };
        for s in &self.subscribers {
            // A full subscriber misses this step; the next one carries every live identity.
            let _ = s.try_send(update.clone());
        }
    }
}

impl Actor for ReidFusionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if !self.input_clock {
            ctx.run_interval(self.tick, |act, _| act.on_tick());
        }
    }
}

impl Handler<FuseObservations> for ReidFusionActor {
    type Result = ();

    fn handle(&mut self, msg: FuseObservations, _ctx: &mut Self::Context) {
        if !msg.time_s.is_finite() {
            return;
        }
        match self.pending_time {
            Some(t) if msg.time_s > t + 1e-6 => {
                self.flush();
                self.pending_time = Some(msg.time_s);
            }
            Some(_) => {}
            None => self.pending_time = Some(msg.time_s),
        }
        if self.pending_since.is_none() {
            self.pending_since = Some(Instant::now());
        }
        if !self.cameras.contains(&msg.camera) {
            self.cameras.push(msg.camera);
        }
        // A camera's latest view of a track at this instant replaces an earlier one.
        self.pending.retain(|o| {
            o.camera != msg.camera || !msg.observations.iter().any(|n| n.track == o.track)
        });
        self.pending.extend(msg.observations);
    }
}

impl Handler<Snapshot> for ReidFusionActor {
    type Result = ReidSnapshot;

    fn handle(&mut self, _: Snapshot, _ctx: &mut Self::Context) -> ReidSnapshot {
        self.flush();
        ReidSnapshot {
            active: self.fusion.active(),
            remembered: self.fusion.remembered(),
            offsets: self
                .cameras
                .iter()
                .map(|&c| (c, self.fusion.camera_offset(c)))
                .collect(),
        }
    }
}

impl Handler<ResetFusion> for ReidFusionActor {
    type Result = ();

    fn handle(&mut self, _: ResetFusion, _ctx: &mut Self::Context) {
        self.fusion = Fusion::new(self.cfg.clone());
        self.pending_time = None;
        self.pending_since = None;
        self.pending.clear();
        self.last_step = None;
    }
}

impl Handler<FlushFusion> for ReidFusionActor {
    type Result = ();

    fn handle(&mut self, _: FlushFusion, _ctx: &mut Self::Context) {
        self.flush();
    }
}

impl Handler<FusionSync> for ReidFusionActor {
    type Result = ();

    fn handle(&mut self, _: FusionSync, _ctx: &mut Self::Context) {}
}

impl Handler<SetCameraCentre> for ReidFusionActor {
    type Result = ();

    fn handle(&mut self, msg: SetCameraCentre, _ctx: &mut Self::Context) {
        self.fusion.set_camera_centre(msg.camera, msg.centre);
    }
}

impl Handler<ResolveIdentities> for ReidFusionActor {
    type Result = Vec<(GlobalId, GlobalId)>;

    fn handle(&mut self, msg: ResolveIdentities, _ctx: &mut Self::Context) -> Self::Result {
        msg.0
            .into_iter()
            .map(|id| (id, self.fusion.resolve(id)))
            .collect()
    }
}
