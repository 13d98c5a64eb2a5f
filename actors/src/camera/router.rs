//! Edge nodes' detections → the cameras they come from. A camera is one stream of one node;
//! person boxes of a configured stream go to its camera actor, stamped with the node's time,
//! with the node's appearance vector for each box where it sends one.

use std::collections::HashMap;

use actix::prelude::*;
use urbanstream_vision::tracker::{normalise, Detection};

use super::actor::CameraDetections;
use crate::entity::{EntityKey, EntityUpdate, Observation};
use crate::metrics::CAMERA_FRAMES_TOTAL;

/// The node's appearance vector for a box (`"embedding": [numbers]`, beside the box or in its
/// metadata), unit length; ignored when it is not a list of up to 4,096 finite numbers.
fn appearance(v: Option<&serde_json::Value>) -> Option<Vec<f32>> {
    let list = v?.as_array()?;
    if list.is_empty() || list.len() > 4096 {
        return None;
    }
    let mut e: Vec<f32> = list
        .iter()
        .map(|x| x.as_f64().filter(|f| f.is_finite()).map(|f| f as f32))
        .collect::<Option<_>>()?;
    normalise(&mut e).then_some(e)
}

/// Where a stream's detections go, and the frame size that normalised boxes are scaled by.
pub struct CameraRoute {
    pub camera: Recipient<CameraDetections>,
    pub size: Option<[u32; 2]>,
}

pub struct CameraRouter {
    /// `(node id, stream id)` → camera.
    routes: HashMap<(String, String), CameraRoute>,
}

impl CameraRouter {
    pub fn new(routes: HashMap<(String, String), CameraRoute>) -> Self {
        Self { routes }
    }
}

impl Actor for CameraRouter {
    type Context = Context<Self>;
}

impl Handler<EntityUpdate> for CameraRouter {
    type Result = ();

    fn handle(&mut self, msg: EntityUpdate, _ctx: &mut Self::Context) {
        let EntityKey::EdgeNode(node) = msg.key else {
            return;
        };
        for acc in msg.readings.iter().filter(|a| !a.late) {
            let mut frames: HashMap<&str, Vec<Detection>> = HashMap::new();
            for obs in &acc.reading.observations {
                let Observation::Detections { detections } = obs else {
                    continue;
                };
                for d in detections
                    .iter()
                    .filter(|d| d.object_type.eq_ignore_ascii_case("person"))
                {
                    let Some(route) = self.routes.get(&(node.to_string(), d.stream_id.clone()))
                    else {
                        continue;
                    };
                    let b = &d.bbox;
                    let bbox = match (b.normalized, route.size) {
                        (false, _) => [b.x, b.y, b.width, b.height],
                        (true, Some([w, h])) => [
                            b.x * f64::from(w),
                            b.y * f64::from(h),
                            b.width * f64::from(w),
                            b.height * f64::from(h),
                        ],
                        (true, None) => {
                            metrics::counter!(CAMERA_FRAMES_TOTAL, "outcome" => "no_frame_size")
                                .increment(1);
                            continue;
                        }
                    };
                    let embedding = appearance(d.metadata.get("embedding"));
                    frames
                        .entry(d.stream_id.as_str())
                        .or_default()
                        .push(Detection {
                            bbox,
                            score: d.confidence,
                            embedding,
                        });
                }
            }
            for (stream, detections) in frames {
                if let Some(route) = self.routes.get(&(node.to_string(), stream.to_string())) {
                    let frame = CameraDetections {
                        time_s: acc.reading.at_ms as f64 / 1000.0,
                        detections,
                    };
                    if route.camera.try_send(frame).is_err() {
                        metrics::counter!(CAMERA_FRAMES_TOTAL, "outcome" => "mailbox_full")
                            .increment(1);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::appearance;
    use serde_json::json;

    #[test]
    fn appearance_vectors_are_read_or_ignored() {
        let e = appearance(Some(&json!([3.0, 4.0]))).unwrap();
        assert!((e[0] - 0.6).abs() < 1e-6 && (e[1] - 0.8).abs() < 1e-6);
        assert_eq!(appearance(Some(&json!([1.0, "x"]))), None);
        assert_eq!(appearance(Some(&json!([0.0, 0.0]))), None);
        assert_eq!(appearance(Some(&json!("abc"))), None);
        assert_eq!(appearance(Some(&json!([]))), None);
        assert_eq!(appearance(None), None);
    }
}
