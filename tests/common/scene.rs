//! Calibrated cameras over a 20 × 14 m room, and the person boxes they would see: what an
//! edge node reports for people walking, so the live camera pipeline can be driven exactly.

use serde_json::{json, Value};
use urbanstream::config::CameraEntry;
use urbanstream_vision::geometry::CalibrationSpec;

/// The cameras' intrinsics (1280 × 720 frames).
pub const K: [[f64; 3]; 3] = [[800.0, 0.0, 640.0], [0.0, 800.0, 360.0], [0.0, 0.0, 1.0]];

/// A camera's rotation and translation.
pub type Pose = ([[f64; 3]; 3], [f64; 3]);

/// A camera 5 m up at `(cx, cy)` looking at the room's middle (10, 7): its R and t.
pub fn pose(cx: f64, cy: f64) -> Pose {
    let norm = |v: [f64; 3]| {
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        [v[0] / n, v[1] / n, v[2] / n]
    };
    let cross = |a: [f64; 3], b: [f64; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let fwd = norm([10.0 - cx, 7.0 - cy, -5.0]);
    let right = norm(cross(fwd, [0.0, 0.0, 1.0]));
    let r = [right, cross(fwd, right), fwd];
    let c = [cx, cy, 5.0];
    (
        r,
        [0, 1, 2].map(|i| -(r[i][0] * c[0] + r[i][1] * c[1] + r[i][2] * c[2])),
    )
}

/// The box, normalised to a 1280×720 frame, of a 1.7 m person at `(x, y)`.
pub fn normalised_box((r, t): &Pose, x: f64, y: f64) -> Value {
    let project = |p: [f64; 3]| {
        let c = [0, 1, 2].map(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2] + t[i]);
        (800.0 * c[0] / c[2] + 640.0, 800.0 * c[1] / c[2] + 360.0)
    };
    let (u, v) = project([x, y, 0.0]);
    let (_, top) = project([x, y, 1.7]);
    let h = v - top;
    json!({"x": (u - 0.205 * h) / 1280.0, "y": top / 720.0, "width": 0.41 * h / 1280.0, "height": h / 720.0, "normalized": true})
}

/// Camera `id`: stream `s{id}` of `node`, at `pose`, 10 frames a second.
pub fn camera(id: u32, node: &str, (r, t): &Pose) -> CameraEntry {
    CameraEntry {
        id,
        node: node.into(),
        stream: format!("s{id}"),
        source: None,
        video: Default::default(),
        roi: None,
        fps: 10.0,
        size: Some([1280, 720]),
        calibration: CalibrationSpec {
            k: Some(K),
            r: Some(*r),
            t: Some(*t),
            ..CalibrationSpec::default()
        },
        calibration_file: None,
    }
}

/// Two people crossing the room in opposite directions at 0.8 m/s: where they are `t`
/// seconds in.
pub fn two_walkers(t: f64) -> [(f64, f64); 2] {
    [(6.0 + 0.8 * t, 6.0), (14.0 - 0.8 * t, 9.0)]
}

/// One detection message of `node` for frame `k` (10 a second from `start_ms`): every
/// person's box in every camera, each with an appearance vector of its own.
pub fn frame_message(
    node: &str,
    poses: &[Pose],
    start_ms: i64,
    k: i64,
    people: &[(f64, f64)],
) -> Value {
    let mut detections = Vec::new();
    for (i, p) in poses.iter().enumerate() {
        for (n, &(x, y)) in people.iter().enumerate() {
            let embedding: Vec<f64> = (0..8).map(|d| if d % 2 == n { 1.0 } else { 0.1 }).collect();
            detections.push(json!({"stream_id": format!("s{i}"), "object_type": "person", "confidence": 0.9,
                "bbox": normalised_box(p, x, y), "embedding": embedding, "metadata": {"colour": "red"}}));
        }
    }
    json!({"node_id": node, "timestamp": start_ms + k * 100, "boot": 1, "seq": k + 1, "detections": detections})
}
