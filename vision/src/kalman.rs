//! Linear Kalman filters: a box in the image (centre, aspect, height and their rates) and a
//! point on the floor (position and velocity), plus a fixed-interval smoother for offline runs.

use nalgebra::{Matrix2, Matrix4, SMatrix, SVector, Vector2, Vector4};

type V8 = SVector<f64, 8>;
type M8 = SMatrix<f64, 8, 8>;
type M48 = SMatrix<f64, 4, 8>;

/// Position and velocity noise as a share of the box height, per time unit (SORT/ByteTrack's
/// per-frame values, applied per tenth of a second: walking people change course about that
/// smoothly).
const STD_POS: f64 = 1.0 / 20.0;
const STD_VEL: f64 = 1.0 / 160.0;

/// The rate the box filter's time unit is set for: a frame at `fps` steps it by
/// `REFERENCE_FPS / fps` units, so that its motion model means the same at 2 and at 30 frames
/// per second.
pub const REFERENCE_FPS: f64 = 10.0;

/// A box as `(cx, cy, aspect = w / h, h)` with constant velocity, time in frames.
#[derive(Debug, Clone)]
pub struct BoxKalman {
    mean: V8,
    cov: M8,
}

/// `(x, y, w, h)` top-left box → `(cx, cy, a, h)`.
pub fn xywh_to_xyah(b: [f64; 4]) -> [f64; 4] {
    [
        b[0] + b[2] / 2.0,
        b[1] + b[3] / 2.0,
        b[2] / b[3].max(1e-6),
        b[3],
    ]
}

pub fn xyah_to_xywh(m: [f64; 4]) -> [f64; 4] {
    let w = m[2] * m[3];
    [m[0] - w / 2.0, m[1] - m[3] / 2.0, w, m[3]]
}

fn h_matrix() -> M48 {
    M48::from_fn(|r, c| if r == c { 1.0 } else { 0.0 })
}

impl BoxKalman {
    pub fn new(xyah: [f64; 4]) -> Self {
        let h = xyah[3].max(1.0);
        let mut mean = V8::zeros();
        for i in 0..4 {
            mean[i] = xyah[i];
        }
        let std = [
            2.0 * STD_POS * h,
            2.0 * STD_POS * h,
            1e-2,
            2.0 * STD_POS * h,
            10.0 * STD_VEL * h,
            10.0 * STD_VEL * h,
            1e-5,
            10.0 * STD_VEL * h,
        ];
        Self {
            mean,
            cov: M8::from_diagonal(&V8::from_fn(|i, _| std[i] * std[i])),
        }
    }

    /// Advances by `dt` time units (frames at the reference rate; see [`REFERENCE_FPS`]). A
    /// long step is taken as unit sub-steps so that velocity noise reaches the position as it
    /// would frame by frame.
    pub fn predict(&mut self, dt: f64) {
        if dt.is_nan() || dt <= 0.0 {
            return;
        }
        let steps = dt.ceil().clamp(1.0, 300.0);
        let h_step = dt / steps;
        for _ in 0..steps as usize {
            self.predict_step(h_step);
        }
    }

    fn predict_step(&mut self, dt: f64) {
        let h = self.mean[3].max(1.0);
        let mut f = M8::identity();
        for i in 0..4 {
            f[(i, i + 4)] = dt;
        }
        let sp = [STD_POS * h, STD_POS * h, 1e-2, STD_POS * h];
        let sv = [STD_VEL * h, STD_VEL * h, 1e-5, STD_VEL * h];
        let q = V8::from_fn(|i, _| {
            if i < 4 {
                sp[i] * sp[i] * dt
            } else {
                sv[i - 4] * sv[i - 4] * dt
            }
        });
        self.mean = f * self.mean;
        self.cov = f * self.cov * f.transpose() + M8::from_diagonal(&q);
        // A box does not shrink through zero height while it coasts.
        self.mean[3] = self.mean[3].max(1.0);
        self.mean[2] = self.mean[2].max(0.05);
    }

    pub fn update(&mut self, xyah: [f64; 4]) {
        let h = self.mean[3].max(1.0);
        let sr = [STD_POS * h, STD_POS * h, 1e-1, STD_POS * h];
        let r = Matrix4::from_diagonal(&Vector4::from_fn(|i, _| sr[i] * sr[i]));
        let hm = h_matrix();
        let s = hm * self.cov * hm.transpose() + r;
        let Some(s_inv) = s.try_inverse() else { return };
        let k = self.cov * hm.transpose() * s_inv;
        let z = Vector4::new(xyah[0], xyah[1], xyah[2], xyah[3]);
        let y = z - hm * self.mean;
        self.mean += k * y;
        self.cov = (M8::identity() - k * hm) * self.cov;
    }

    pub fn xyah(&self) -> [f64; 4] {
        [self.mean[0], self.mean[1], self.mean[2], self.mean[3]]
    }

    pub fn xywh(&self) -> [f64; 4] {
        xyah_to_xywh(self.xyah())
    }

    /// Image velocity of the centre, pixels per frame.
    pub fn velocity(&self) -> (f64, f64) {
        (self.mean[4], self.mean[5])
    }
}

/// A point on the floor with constant velocity; time in seconds, metres.
#[derive(Debug, Clone)]
pub struct FloorKalman {
    pub mean: Vector4<f64>,
    pub cov: Matrix4<f64>,
    /// Acceleration noise, (m/s²)² — how sharply people turn and stop.
    accel_var: f64,
}

fn cv_model(dt: f64, accel_var: f64) -> (Matrix4<f64>, Matrix4<f64>) {
    let f = Matrix4::new(
        1.0, 0.0, dt, 0.0, 0.0, 1.0, 0.0, dt, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
    );
    let (a, b, c) = (dt.powi(3) / 3.0, dt.powi(2) / 2.0, dt);
    let q = Matrix4::new(
        a, 0.0, b, 0.0, 0.0, a, 0.0, b, b, 0.0, c, 0.0, 0.0, b, 0.0, c,
    ) * accel_var;
    (f, q)
}

fn floor_h() -> SMatrix<f64, 2, 4> {
    SMatrix::<f64, 2, 4>::new(1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0)
}

impl FloorKalman {
    pub fn new(x: f64, y: f64, pos_var: f64, accel_var: f64) -> Self {
        // Walking speed is rarely above 2 m/s: the initial velocity spread says so.
        let cov = Matrix4::from_diagonal(&Vector4::new(pos_var, pos_var, 1.0, 1.0));
        Self {
            mean: Vector4::new(x, y, 0.0, 0.0),
            cov,
            accel_var,
        }
    }

    pub fn predict(&mut self, dt: f64) {
        if dt <= 0.0 {
            return;
        }
        let (f, q) = cv_model(dt, self.accel_var);
        self.mean = f * self.mean;
        self.cov = f * self.cov * f.transpose() + q;
    }

    pub fn update(&mut self, x: f64, y: f64, var: f64) {
        let hm = floor_h();
        let s = hm * self.cov * hm.transpose() + Matrix2::identity() * var;
        let Some(s_inv) = s.try_inverse() else { return };
        let k = self.cov * hm.transpose() * s_inv;
        let innov = Vector2::new(x, y) - hm * self.mean;
        self.mean += k * innov;
        self.cov = (Matrix4::identity() - k * hm) * self.cov;
    }

    /// Squared Mahalanobis distance of a measurement with variance `var`.
    pub fn mahalanobis2(&self, x: f64, y: f64, var: f64) -> f64 {
        let hm = floor_h();
        let s = hm * self.cov * hm.transpose() + Matrix2::identity() * var;
        let innov = Vector2::new(x, y) - hm * self.mean;
        match s.try_inverse() {
            Some(si) => (innov.transpose() * si * innov)[(0, 0)],
            None => f64::INFINITY,
        }
    }

    pub fn position(&self) -> (f64, f64) {
        (self.mean[0], self.mean[1])
    }

    pub fn speed(&self) -> f64 {
        self.mean[2].hypot(self.mean[3])
    }

    /// The standard deviation of the position, metres (the larger axis).
    pub fn position_sd(&self) -> f64 {
        self.cov[(0, 0)].max(self.cov[(1, 1)]).sqrt()
    }
}

/// Rauch–Tung–Striebel smoothing of a floor track: `(t seconds, x, y, measurement variance)`
/// in time order → smoothed `(x, y)` at each time. An infinite variance marks a time with no
/// measurement (the smoother fills it in).
pub fn smooth_floor_track(samples: &[(f64, f64, f64, f64)], accel_var: f64) -> Vec<(f64, f64)> {
    let Some(first) = samples.first() else {
        return Vec::new();
    };
    let mut kf = FloorKalman::new(first.1, first.2, first.3, accel_var);
    let mut filtered: Vec<(Vector4<f64>, Matrix4<f64>)> = Vec::with_capacity(samples.len());
    let mut predicted: Vec<(Vector4<f64>, Matrix4<f64>, Matrix4<f64>)> =
        Vec::with_capacity(samples.len());
    let mut last_t = first.0;
    for (i, &(t, x, y, var)) in samples.iter().enumerate() {
        if i > 0 {
            let dt = (t - last_t).max(0.0);
            let (f, _) = cv_model(dt, accel_var);
            kf.predict(dt);
            predicted.push((kf.mean, kf.cov, f));
        } else {
            predicted.push((kf.mean, kf.cov, Matrix4::identity()));
        }
        if var.is_finite() {
            kf.update(x, y, var);
        }
        filtered.push((kf.mean, kf.cov));
        last_t = t;
    }
    let n = filtered.len();
    let mut smoothed = filtered.clone();
    for i in (0..n.saturating_sub(1)).rev() {
        let (pm, pc, f) = &predicted[i + 1];
        let (fm, fc) = &filtered[i];
        let Some(pc_inv) = pc.try_inverse() else {
            continue;
        };
        let c = fc * f.transpose() * pc_inv;
        let (sm_next, sc_next) = smoothed[i + 1];
        smoothed[i] = (
            fm + c * (sm_next - pm),
            fc + c * (sc_next - pc) * c.transpose(),
        );
    }
    smoothed.iter().map(|(m, _)| (m[0], m[1])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_filter_follows_constant_motion() {
        let mut kf = BoxKalman::new(xywh_to_xyah([100.0, 100.0, 40.0, 100.0]));
        for i in 1..=30 {
            kf.predict(1.0);
            kf.update(xywh_to_xyah([100.0 + 5.0 * i as f64, 100.0, 40.0, 100.0]));
        }
        let (vx, vy) = kf.velocity();
        assert!((vx - 5.0).abs() < 0.2 && vy.abs() < 0.2, "{vx} {vy}");
        kf.predict(2.0);
        let b = kf.xywh();
        assert!((b[0] - 260.0).abs() < 2.0, "{b:?}");
        assert!((b[2] - 40.0).abs() < 0.5 && (b[3] - 100.0).abs() < 0.5);
    }

    #[test]
    fn floor_filter_and_smoother_reduce_noise() {
        // A walk at 1.2 m/s along x with ±0.3 m alternating measurement error.
        let truth: Vec<(f64, f64)> = (0..100).map(|i| (1.2 * i as f64 * 0.1, 2.0)).collect();
        let samples: Vec<_> = truth
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| {
                let e = if i % 2 == 0 { 0.3 } else { -0.3 };
                (i as f64 * 0.1, x + e, y - e, 0.09)
            })
            .collect();
        let smooth = smooth_floor_track(&samples, 1.0);
        let rms = |p: &[(f64, f64)]| {
            (p.iter()
                .zip(&truth)
                .map(|(a, b)| (a.0 - b.0).powi(2) + (a.1 - b.1).powi(2))
                .sum::<f64>()
                / p.len() as f64)
                .sqrt()
        };
        let raw: Vec<_> = samples.iter().map(|s| (s.1, s.2)).collect();
        assert!(
            rms(&smooth) < 0.5 * rms(&raw),
            "smoothed {} raw {}",
            rms(&smooth),
            rms(&raw)
        );
        let mut kf = FloorKalman::new(0.0, 0.0, 0.1, 1.0);
        for s in &samples[1..] {
            kf.predict(0.1);
            kf.update(s.1, s.2, s.3);
        }
        assert!((kf.mean[2] - 1.2).abs() < 0.3, "speed {}", kf.mean[2]);
        assert!(kf.mahalanobis2(kf.mean[0], kf.mean[1], 0.09) < 1e-9);
        assert!(kf.mahalanobis2(kf.mean[0] + 5.0, kf.mean[1], 0.09) > 25.0);
    }
}
