//! The live camera pipeline's wiring: a camera actor per configured camera, the ReID fusion
//! aggregator, edge nodes' person detections routed to their cameras, every fusion step
//! relayed to WebSocket subscribers of `tracking`, and tracking sessions: an operator starts,
//! pauses, resumes and stops the cameras, and what a session saw is recorded.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use anyhow::Context as _;
use urbanstream_actors::camera::{
    CameraActor, CameraCommand, CameraRoute, CameraRouter, CameraState, CameraTap,
};
use urbanstream_actors::db_batcher::Persist;
use urbanstream_actors::entity::EntityUpdate;
use urbanstream_actors::hub::{Broadcast, HubActor, Topic};
use urbanstream_actors::reid::{
    FloorZone, PeopleRecorderActor, RecordSession, RecordSettings, ReidFusionActor, ResetFusion,
    SetZones, TrackingUpdate,
};
use urbanstream_schema::models::{NewSession, SessionRow, ZoneRow};
use urbanstream_schema::store::{DbError, Store, SESSION_PAUSED, SESSION_RUNNING, SESSION_STOPPED};
use urbanstream_vision::geometry::FloorCalibration;

use crate::config::{CameraEntry, CamerasSection, EnvironmentEntry, RecordEntry};

/// Video cameras' newest pictures for WebSocket viewers, by camera id: each a binary message,
/// `[camera id: u32][capture time, ms since the epoch: i64]` (big endian) and then the JPEG.
/// Pictures are drawn and encoded only while someone watches.
pub type CameraFeeds = Arc<HashMap<u32, tokio::sync::watch::Sender<Option<bytes::Bytes>>>>;

/// A running camera, as the API reaches it.
#[derive(Clone)]
pub struct CameraHandle {
    pub id: u32,
    pub node: String,
    pub stream: String,
    pub addr: Addr<CameraActor>,
    /// Its configuration (calibration, frame size, rate), as the API shows it.
    pub entry: CameraEntry,
}

impl CameraHandle {
    /// The `(node_id, stream_id)` its stored detections carry: the edge node's stream, or for
    /// a video camera `("camera-{id}", "video")`.
    pub fn detection_key(&self) -> (String, String) {
        match &self.entry.source {
            Some(_) => video_detection_key(self.id),
            None => (self.node.clone(), self.stream.clone()),
        }
    }
}

/// Where a video camera's detections are stored: as if an edge node `camera-{id}` had sent
/// them on stream `video`.
pub fn video_detection_key(id: u32) -> (String, String) {
    (format!("camera-{id}"), "video".into())
}

/// The running camera pipeline.
pub struct Tracking {
    /// Where edge nodes' updates go.
    pub router: Recipient<EntityUpdate>,
    pub sessions: Sessions,
}

/// Tracking sessions of the site: at most one open (running or paused) at a time. Starting
/// one resets the cameras and the fusion (global ids count from 1) and records into it.
#[derive(Clone)]
pub struct Sessions {
    pub environment: EnvironmentEntry,
    pub record: RecordEntry,
    pub cameras: Vec<CameraHandle>,
    pub recorder: Addr<PeopleRecorderActor>,
    /// Video cameras' pictures.
    pub feeds: CameraFeeds,
    fusion: Addr<ReidFusionActor>,
    store: Store,
    /// The video cameras' decoding and detection threads, stopped when the last clone goes.
    _video: Arc<Vec<crate::video_feed::VideoHandle>>,
    /// One change at a time.
    lock: Arc<tokio::sync::Mutex<()>>,
}

/// Why a session change was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session {0} is {1}")]
    Conflict(i64, String),
    #[error("no such session")]
    NotFound,
    #[error("storage: {0}")]
    Db(#[from] DbError),
}

impl Sessions {
    /// The open session, if any.
    pub async fn open(&self) -> Result<Option<SessionRow>, DbError> {
        Ok(self
            .store
            .sessions(1)
            .await?
            .into_iter()
            .find(|s| s.state != SESSION_STOPPED))
    }

    pub async fn start(&self, by: &str) -> Result<SessionRow, SessionError> {
        let _guard = self.lock.lock().await;
        if let Some(s) = self.open().await? {
            return Err(SessionError::Conflict(s.id, s.state));
        }
        let now = crate::auth::now_ms();
        let row = self
            .store
            .create_session(NewSession {
                environment: self.environment.id.clone(),
                state: SESSION_RUNNING.into(),
                started_ms: now,
                started_by: by.to_owned(),
                updated_ms: now,
            })
            .await?;
        self.fusion.do_send(ResetFusion);
        self.recorder.do_send(RecordSession(Some(row.id)));
        self.command(CameraCommand::Stop).await;
        self.command(CameraCommand::Start).await;
        tracing::info!(session = row.id, by, "tracking session started");
        Ok(row)
    }

    /// Pauses (`paused`), resumes (`running`) or stops (`stopped`) an open session.
    pub async fn set(&self, id: i64, to: &'static str) -> Result<SessionRow, SessionError> {
        let _guard = self.lock.lock().await;
        let row = self
            .store
            .session(id)
            .await?
            .ok_or(SessionError::NotFound)?;
        let allowed = match to {
            SESSION_PAUSED => row.state == SESSION_RUNNING,
            SESSION_RUNNING => row.state == SESSION_PAUSED,
            _ => row.state != SESSION_STOPPED,
        };
        if !allowed {
            return Err(SessionError::Conflict(id, row.state));
        }
        let cmd = match to {
            SESSION_PAUSED => CameraCommand::Pause,
            SESSION_RUNNING => CameraCommand::Resume,
            _ => CameraCommand::Stop,
        };
        self.command(cmd).await;
        if to == SESSION_STOPPED {
            self.recorder.do_send(RecordSession(None));
        }
        let row = self
            .store
            .set_session_state(id, to, crate::auth::now_ms())
            .await?
            .ok_or(SessionError::NotFound)?;
        tracing::info!(session = id, state = to, "tracking session changed");
        Ok(row)
    }

    /// Tells every camera; a camera already in the asked state is left as it is.
    async fn command(&self, cmd: CameraCommand) {
        for c in &self.cameras {
            match c.addr.send(cmd).await {
                Ok(Ok(_)) => {}
                Ok(Err(why)) => tracing::debug!(camera = c.id, ?cmd, "camera: {why}"),
                Err(e) => tracing::warn!(camera = c.id, ?cmd, "camera unreachable: {e}"),
            }
        }
    }

    /// The cameras' states, for a session's status.
    pub async fn camera_states(&self) -> Vec<(u32, Option<CameraState>)> {
        let mut out = Vec::with_capacity(self.cameras.len());
        for c in &self.cameras {
            let state = c
                .addr
                .send(urbanstream_actors::camera::GetStatus)
                .await
                .ok()
                .map(|s| s.state);
            out.push((c.id, state));
        }
        out
    }

    /// Zones changed: the recorder judges people against the new set.
    pub async fn reload_zones(&self) -> Result<(), DbError> {
        let rows = self.store.zones(Some(self.environment.id.clone())).await?;
        self.recorder
            .do_send(SetZones(rows.iter().filter_map(floor_zone).collect()));
        Ok(())
    }
}

/// A zone row's polygon as the recorder uses it; `None` when the stored polygon is unusable.
pub fn floor_zone(z: &ZoneRow) -> Option<FloorZone> {
    let polygon: Vec<(f64, f64)> = serde_json::from_str::<Vec<[f64; 2]>>(&z.polygon)
        .ok()?
        .into_iter()
        .map(|[x, y]| (x, y))
        .collect();
    (polygon.len() >= 3).then(|| FloorZone {
        id: z.id,
        name: z.name.clone(),
        polygon,
    })
}

/// Starts the cameras, the fusion and the recorder; `None` when no camera is configured.
/// Sessions left open by an earlier process are closed; with `record.autostart` a new one
/// starts.
pub async fn start(
    cfg: &CamerasSection,
    hub: Addr<HubActor>,
    store: Store,
    persist: Recipient<Persist>,
) -> anyhow::Result<Option<Tracking>> {
    if cfg.list.is_empty() {
        return Ok(None);
    }
    let zones: Vec<FloorZone> = store
        .zones(Some(cfg.environment.id.clone()))
        .await?
        .iter()
        .filter_map(floor_zone)
        .collect();
    let settings = RecordSettings {
        point_every_s: cfg.record.point_every_s,
        appearance: cfg.record.appearance,
        ..RecordSettings::default()
    };
    let recorder = PeopleRecorderActor::new(
        settings,
        zones,
        persist.clone(),
        Some(hub.clone().recipient()),
    )
    .start();
    let hub_for_status = hub.clone();
    let relay = TrackingRelay {
        hub,
        changes: Changes::default(),
    }
    .start();
    let fusion = ReidFusionActor::new(
        cfg.fusion.clone(),
        vec![relay.recipient(), recorder.clone().recipient()],
    )
    .start();
    let mut routes = HashMap::new();
    let mut cameras = Vec::with_capacity(cfg.list.len());
    let mut feeds = HashMap::new();
    let mut video: Vec<crate::video_feed::VideoHandle> = Vec::new();
    for c in &cfg.list {
        let spec = c
            .calibration_spec()
            .map_err(|e| anyhow::anyhow!("camera {}: {e}", c.id))?;
        let cal = FloorCalibration::from_spec(&spec)
            .with_context(|| format!("camera {}: calibration", c.id))?;
        let tap = Arc::new(CameraTap::default());
        let camera = CameraActor::new(
            c.id,
            c.fps,
            cal,
            cfg.tracker.clone(),
            fusion.clone().recipient(),
        )
        .with_region(
            c.roi
                .as_ref()
                .map(|p| p.iter().map(|&[x, y]| (x, y)).collect()),
        )
        .with_frame_size(c.size)
        .with_tap(tap.clone())
        .start();
        match &c.source {
            Some(source) => {
                let (feed, _) = tokio::sync::watch::channel(None);
                video.push(crate::video_feed::start(
                    c,
                    source,
                    camera.clone(),
                    tap,
                    feed.clone(),
                    Some(persist.clone()),
                    video_detection_key(c.id),
                )?);
                feeds.insert(c.id, feed);
            }
            None => {
                routes.insert(
                    (c.node.clone(), c.stream.clone()),
                    CameraRoute {
                        camera: camera.clone().recipient(),
                        size: c.size,
                    },
                );
            }
        }
        cameras.push(CameraHandle {
            id: c.id,
            node: c.node.clone(),
            stream: c.stream.clone(),
            addr: camera,
            entry: c.clone(),
        });
    }
    let sessions = Sessions {
        environment: cfg.environment.clone(),
        record: cfg.record.clone(),
        cameras,
        recorder,
        feeds: Arc::new(feeds),
        fusion,
        store: store.clone(),
        _video: Arc::new(video),
        lock: Arc::default(),
    };
    let closed = store.close_open_sessions(crate::auth::now_ms()).await?;
    if closed > 0 {
        tracing::warn!(
            closed,
            "tracking sessions left open by an earlier run were stopped"
        );
    }
    if cfg.record.autostart {
        sessions
            .start("system")
            .await
            .map_err(|e| anyhow::anyhow!("starting the tracking session: {e}"))?;
    }
    StatusReporter {
        cameras: sessions.cameras.clone(),
        recorder: sessions.recorder.clone(),
        hub: hub_for_status,
        last: None,
    }
    .start();
    tracing::info!(cameras = cfg.list.len(), "camera tracking started");
    Ok(Some(Tracking {
        router: CameraRouter::new(routes).start().recipient(),
        sessions,
    }))
}

/// What of a fusion step is news to subscribers: a person who moved 5 cm or more, changed
/// cameras (also told as a `camera_transition` event), or was last sent a second ago or more.
#[derive(Debug, Default)]
struct Changes {
    sent: HashMap<u64, Sent>,
}

/// A person as last sent: position, cameras, time.
#[derive(Debug)]
struct Sent((f64, f64), Vec<u32>, f64);

/// The least move that is sent at once, metres; and the longest a person goes unsent, seconds.
const MOVED_M: f64 = 0.05;
const RESEND_S: f64 = 1.0;

impl Changes {
    /// The people to send from this step, and the camera transitions among them.
    fn step(
        &mut self,
        time_s: f64,
        people: &[urbanstream_actors::reid::IdentityUpdate],
        gone: impl IntoIterator<Item = u64>,
    ) -> (Vec<usize>, Vec<serde_json::Value>) {
        for g in gone {
            self.sent.remove(&g);
        }
        let (mut send, mut transitions) = (Vec::new(), Vec::new());
        for (i, p) in people.iter().enumerate() {
            let mut cams: Vec<u32> = p.cameras.iter().map(|&(c, _)| c).collect();
            cams.sort_unstable();
            cams.dedup();
            let news = match self.sent.get(&p.global_id) {
                None => true,
                Some(Sent((x, y), before, at)) => {
                    if *before != cams {
                        transitions.push(serde_json::json!({"kind": "camera_transition",
                            "global_id": p.global_id, "from": before, "to": cams}));
                    }
                    (x - p.x_m).hypot(y - p.y_m) >= MOVED_M
                        || *before != cams
                        || time_s - at >= RESEND_S
                        || time_s < *at
                }
            };
            if news {
                send.push(i);
                self.sent
                    .insert(p.global_id, Sent((p.x_m, p.y_m), cams, time_s));
            }
        }
        (send, transitions)
    }
}

/// Fusion steps → `{"type": "tracking_update", "topic": "tracking", "data": {…}}`, with the
/// people whose place or cameras changed (see `Changes`).
struct TrackingRelay {
    hub: Addr<HubActor>,
    changes: Changes,
}

impl Actor for TrackingRelay {
    type Context = Context<Self>;
}

impl Handler<TrackingUpdate> for TrackingRelay {
    type Result = ();

    fn handle(&mut self, msg: TrackingUpdate, _ctx: &mut Self::Context) {
        use urbanstream_vision::fusion::FusionEvent as F;
        let gone = msg.events.iter().filter_map(|e| match *e {
            F::Left { identity } => Some(identity),
            F::Merged { from, .. } => Some(from),
            _ => None,
        });
        let (send, transitions) = self.changes.step(msg.time_s, &msg.identities, gone);
        if send.is_empty() && msg.events.is_empty() {
            return;
        }
        let mut events: Vec<serde_json::Value> = msg
            .events
            .iter()
            .filter_map(|e| {
                use urbanstream_vision::fusion::FusionEvent::*;
                Some(match e {
                    Appeared { identity } => {
                        serde_json::json!({"kind": "appeared", "global_id": identity})
                    }
                    Merged { from, into } => {
                        serde_json::json!({"kind": "merged", "from": from, "into": into})
                    }
                    Reentered { old, new } => {
                        serde_json::json!({"kind": "reentered", "global_id": old, "was": new})
                    }
                    Left { identity } => serde_json::json!({"kind": "left", "global_id": identity}),
                    Split { .. } => return None,
                })
            })
            .collect();
        events.extend(transitions);
        let data = serde_json::json!({
            "time": msg.time_s,
            "persons": send.iter().map(|&k| &msg.identities[k]).map(|i| serde_json::json!({
                "global_id": i.global_id, "x_m": i.x_m, "y_m": i.y_m, "vx_mps": i.vx_mps, "vy_mps": i.vy_mps,
                "cameras": i.cameras.iter().map(|(c, t)| serde_json::json!({"camera": c, "track": t})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "events": events,
        });
        self.hub.do_send(Broadcast {
            topic: Topic::Tracking,
            kind: "tracking_update",
            data: Arc::new(data),
        });
    }
}

/// How often `system_status` goes to `tracking` subscribers.
const STATUS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Every `STATUS_EVERY`: `{"type": "system_status", "topic": "tracking", "data": {…}}` with the
/// cameras active, frames processed per second (each camera's and in all), dropped frames,
/// people in view and the process's resident memory.
struct StatusReporter {
    cameras: Vec<CameraHandle>,
    recorder: Addr<PeopleRecorderActor>,
    hub: Addr<HubActor>,
    /// Frames per camera at the previous report, and when.
    last: Option<(std::time::Instant, HashMap<u32, u64>)>,
}

impl Actor for StatusReporter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(STATUS_EVERY, |act, ctx| {
            let cameras: Vec<_> = act.cameras.iter().map(|c| c.addr.clone()).collect();
            let recorder = act.recorder.clone();
            let gather = async move {
                let mut states = Vec::with_capacity(cameras.len());
                for c in cameras {
                    if let Ok(s) = c.send(urbanstream_actors::camera::GetStatus).await {
                        states.push(s);
                    }
                }
                let people = recorder
                    .send(urbanstream_actors::reid::GetLivePeople)
                    .await
                    .map(|l| l.persons.len())
                    .unwrap_or(0);
                (states, people)
            };
            ctx.spawn(
                gather
                    .into_actor(act)
                    .map(|(states, people), act, _| act.report(&states, people)),
            );
        });
    }
}

impl StatusReporter {
    fn report(&mut self, states: &[urbanstream_actors::camera::CameraStatus], people: usize) {
        let now = std::time::Instant::now();
        let frames: HashMap<u32, u64> = states.iter().map(|s| (s.camera, s.frames)).collect();
        let rate = |id: u32, n: u64| match &self.last {
            Some((at, before)) => {
                let dt = now.duration_since(*at).as_secs_f64().max(1e-3);
                n.saturating_sub(before.get(&id).copied().unwrap_or(n)) as f64 / dt
            }
            None => 0.0,
        };
        let cams: Vec<serde_json::Value> = states
            .iter()
            .map(|s| {
                serde_json::json!({
                    "camera": s.camera, "state": s.state, "fps": rate(s.camera, s.frames),
                    "frames": s.frames, "dropped": s.dropped, "live_tracks": s.live_tracks,
                })
            })
            .collect();
        let fps: f64 = states.iter().map(|s| rate(s.camera, s.frames)).sum();
        let data = serde_json::json!({
            "cameras_active": states.iter().filter(|s| s.state == CameraState::Running).count(),
            "cameras_total": self.cameras.len(),
            "processing_fps": fps,
            "dropped_frames": states.iter().map(|s| s.dropped).sum::<u64>(),
            "persons_active": people,
            "memory_bytes": resident_bytes(),
            "cameras": cams,
        });
        self.last = Some((now, frames));
        self.hub.do_send(Broadcast {
            topic: Topic::Tracking,
            kind: "system_status",
            data: Arc::new(data),
        });
    }
}

/// The process's resident memory (Linux), if readable.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::Changes;
    use urbanstream_actors::reid::IdentityUpdate;

    fn at(id: u64, x: f64, cams: &[u32]) -> IdentityUpdate {
        IdentityUpdate {
            global_id: id,
            x_m: x,
            y_m: 0.0,
            vx_mps: 0.0,
            vy_mps: 0.0,
            cameras: cams.iter().map(|&c| (c, 1)).collect(),
            appearance: None,
        }
    }

    #[test]
    fn only_news_is_sent() {
        let mut c = Changes::default();
        let (send, tr) = c.step(0.0, &[at(1, 0.0, &[0]), at(2, 5.0, &[1])], []);
        assert_eq!((send, tr.len()), (vec![0, 1], 0));
        // 1 cm later: nothing new; 1 moves 10 cm, 2 is also seen by camera 0.
        let (send, _) = c.step(0.1, &[at(1, 0.01, &[0]), at(2, 5.0, &[1])], []);
        assert!(send.is_empty());
        let (send, tr) = c.step(0.2, &[at(1, 0.1, &[0]), at(2, 5.0, &[0, 1])], []);
        assert_eq!(send, vec![0, 1]);
        assert_eq!(tr.len(), 1);
        assert_eq!(tr[0]["global_id"], 2);
        assert_eq!(tr[0]["to"], serde_json::json!([0, 1]));
        // Standing still, resent after a second; one who left starts afresh.
        let (send, _) = c.step(1.3, &[at(1, 0.1, &[0])], [2]);
        assert_eq!(send, vec![0]);
        let (send, tr) = c.step(1.4, &[at(2, 9.0, &[1])], []);
        assert_eq!((send, tr.len()), (vec![0], 0));
    }
}
