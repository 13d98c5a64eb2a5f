//! The live camera pipeline's wiring: a camera actor per configured camera, the ReID fusion
//! aggregator, edge nodes' person detections routed to their cameras, and every fusion step
//! relayed to WebSocket subscribers of `tracking`.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use anyhow::Context as _;
use urbanstream_actors::camera::{CameraActor, CameraCommand, CameraRoute, CameraRouter};
use urbanstream_actors::entity::EntityUpdate;
use urbanstream_actors::hub::{Broadcast, HubActor, Topic};
use urbanstream_actors::reid::{ReidFusionActor, TrackingUpdate};
use urbanstream_vision::geometry::FloorCalibration;

use crate::config::CamerasSection;

/// A running camera, as the API reaches it.
#[derive(Clone)]
pub struct CameraHandle {
    pub id: u32,
    pub node: String,
    pub stream: String,
    pub addr: Addr<CameraActor>,
}

/// The running camera pipeline.
pub struct Tracking {
    /// Where edge nodes' updates go.
    pub router: Recipient<EntityUpdate>,
    pub cameras: Vec<CameraHandle>,
}

/// Starts the cameras and the fusion; `None` when no camera is configured.
pub fn start(cfg: &CamerasSection, hub: Addr<HubActor>) -> anyhow::Result<Option<Tracking>> {
    if cfg.list.is_empty() {
        return Ok(None);
    }
    let relay = TrackingRelay { hub }.start();
    let fusion = ReidFusionActor::new(cfg.fusion.clone(), vec![relay.recipient()]).start();
    let mut routes = HashMap::new();
    let mut cameras = Vec::with_capacity(cfg.list.len());
    for c in &cfg.list {
        let cal = FloorCalibration::from_spec(&c.calibration)
            .with_context(|| format!("camera {}: calibration", c.id))?;
        let camera = CameraActor::new(
            c.id,
            c.fps,
            cal,
            cfg.tracker.clone(),
            fusion.clone().recipient(),
        )
        .start();
        camera.do_send(CameraCommand::Start);
        routes.insert(
            (c.node.clone(), c.stream.clone()),
            CameraRoute {
                camera: camera.clone().recipient(),
                size: c.size,
            },
        );
        cameras.push(CameraHandle {
            id: c.id,
            node: c.node.clone(),
            stream: c.stream.clone(),
            addr: camera,
        });
    }
    tracing::info!(cameras = cfg.list.len(), "camera tracking started");
    Ok(Some(Tracking {
        router: CameraRouter::new(routes).start().recipient(),
        cameras,
    }))
}

/// Fusion steps → `{"type": "tracking_update", "topic": "tracking", "data": {…}}`.
struct TrackingRelay {
    hub: Addr<HubActor>,
}

impl Actor for TrackingRelay {
    type Context = Context<Self>;
}

impl Handler<TrackingUpdate> for TrackingRelay {
    type Result = ();

    fn handle(&mut self, msg: TrackingUpdate, _ctx: &mut Self::Context) {
        if msg.identities.is_empty() && msg.events.is_empty() {
            return;
        }
        let events: Vec<serde_json::Value> = msg
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
        let data = serde_json::json!({
            "time": msg.time_s,
            "persons": msg.identities.iter().map(|i| serde_json::json!({
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
