//! Image ↔ floor geometry: plane homographies, pinhole cameras, lens distortion.
//!
//! The floor is the plane z = 0 of the site's frame, in metres. A camera maps a floor point to
//! a pixel through `K · [r1 r2 t]`; its inverse takes a person's foot point to the floor.

use nalgebra::{DMatrix, Matrix3, Vector3};
use serde::{Deserialize, Serialize};

/// Point correspondences `(from, to)`.
pub type PointPairs = [((f64, f64), (f64, f64))];

/// Why a calibration was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CalibrationError {
    #[error("{0} has a value that is not a finite number")]
    NotFinite(&'static str),
    #[error("the homography is degenerate (it maps the floor onto a line or a point)")]
    Degenerate,
    #[error("a homography needs at least 4 point pairs, got {0}")]
    TooFewPoints(usize),
    #[error("the point pairs are degenerate (three or more on one line, or repeated)")]
    DegeneratePoints,
    #[error("R is not a rotation matrix (RᵀR ≠ I or det R ≠ 1)")]
    NotARotation,
    #[error("K is not a camera matrix (focal lengths must be positive, last row 0 0 1)")]
    BadIntrinsics,
    #[error(
        "the camera looks at the floor edge-on or from below, so image points cannot be mapped"
    )]
    FloorNotVisible,
    #[error("distortion needs 4, 5 or 8 coefficients (k1 k2 p1 p2 [k3 [k4 k5 k6]]), got {0}")]
    BadDistortion(usize),
    #[error("no calibration given: need H_img_to_floor, K + R (or rvec) + t, or 4+ point pairs")]
    Missing,
}

/// A projective map of the plane, normalised so that its largest entry is 1 in size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(Matrix3<f64>);

impl Homography {
    /// Checks a 3×3 matrix and keeps it when it is a usable plane map.
    pub fn new(m: Matrix3<f64>) -> Result<Self, CalibrationError> {
        if m.iter().any(|v| !v.is_finite()) {
            return Err(CalibrationError::NotFinite("H"));
        }
        let scale = m.amax();
        if scale <= 0.0 {
            return Err(CalibrationError::Degenerate);
        }
        let m = m / scale;
        let sv = m.singular_values();
        let (max, min) = (sv.max(), sv.min());
        if min.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || max / min > 1e12 {
            return Err(CalibrationError::Degenerate);
        }
        Ok(Self(m))
    }

    /// From rows, as a JSON `[[..],[..],[..]]` gives them.
    pub fn from_rows(rows: &[[f64; 3]; 3]) -> Result<Self, CalibrationError> {
        Self::new(Matrix3::from_fn(|r, c| rows[r][c]))
    }

    pub fn matrix(&self) -> &Matrix3<f64> {
        &self.0
    }

    pub fn rows(&self) -> [[f64; 3]; 3] {
        let m = &self.0;
        [
            [m[(0, 0)], m[(0, 1)], m[(0, 2)]],
            [m[(1, 0)], m[(1, 1)], m[(1, 2)]],
            [m[(2, 0)], m[(2, 1)], m[(2, 2)]],
        ]
    }

    /// Maps a point; `None` where it lands at infinity (on the horizon line).
    pub fn apply(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let p = self.0 * Vector3::new(x, y, 1.0);
        if p.z.abs() < 1e-12 {
            return None;
        }
        let (u, v) = (p.x / p.z, p.y / p.z);
        (u.is_finite() && v.is_finite()).then_some((u, v))
    }

    /// The sign of the homogeneous scale at a point: which side of the horizon it is on.
    pub fn side(&self, x: f64, y: f64) -> f64 {
        (self.0 * Vector3::new(x, y, 1.0)).z.signum()
    }

    pub fn inverse(&self) -> Result<Self, CalibrationError> {
        self.0
            .try_inverse()
            .ok_or(CalibrationError::Degenerate)
            .and_then(Self::new)
    }

    /// The direct linear transform from 4 or more pairs `(from, to)`, with Hartley's
    /// normalisation. Returns the map and its root-mean-square reprojection error in `to` units.
    pub fn from_pairs(pairs: &PointPairs) -> Result<(Self, f64), CalibrationError> {
        if pairs.len() < 4 {
            return Err(CalibrationError::TooFewPoints(pairs.len()));
        }
        if pairs
            .iter()
            .any(|((a, b), (c, d))| ![a, b, c, d].iter().all(|v| v.is_finite()))
        {
            return Err(CalibrationError::NotFinite("points"));
        }
        let src: Vec<(f64, f64)> = pairs.iter().map(|p| p.0).collect();
        let dst: Vec<(f64, f64)> = pairs.iter().map(|p| p.1).collect();
        if has_collinear_triple(&src) || has_collinear_triple(&dst) && pairs.len() == 4 {
            return Err(CalibrationError::DegeneratePoints);
        }
        let ts = normaliser(&src).ok_or(CalibrationError::DegeneratePoints)?;
        let td = normaliser(&dst).ok_or(CalibrationError::DegeneratePoints)?;
        let mut a = DMatrix::<f64>::zeros(2 * pairs.len(), 9);
        for (i, (s, d)) in src.iter().zip(&dst).enumerate() {
            let s = ts * Vector3::new(s.0, s.1, 1.0);
            let d = td * Vector3::new(d.0, d.1, 1.0);
            let (x, y, u, v) = (s.x, s.y, d.x, d.y);
            let r = 2 * i;
            for (c, val) in [-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u]
                .into_iter()
                .enumerate()
            {
                a[(r, c)] = val;
            }
            for (c, val) in [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v]
                .into_iter()
                .enumerate()
            {
                a[(r + 1, c)] = val;
            }
        }
        let ata = a.transpose() * &a;
        let eig = ata.symmetric_eigen();
        let mut order: Vec<usize> = (0..9).collect();
        order.sort_by(|&i, &j| eig.eigenvalues[i].total_cmp(&eig.eigenvalues[j]));
        let (smallest, next) = (
            eig.eigenvalues[order[0]].abs(),
            eig.eigenvalues[order[1]].abs(),
        );
        if next <= 1e-12 || smallest / next > 0.5 && pairs.len() == 4 {
            return Err(CalibrationError::DegeneratePoints);
        }
        let h = eig.eigenvectors.column(order[0]);
        let hn = Matrix3::from_fn(|r, c| h[3 * r + c]);
        let td_inv = td.try_inverse().ok_or(CalibrationError::DegeneratePoints)?;
        let hom = Self::new(td_inv * hn * ts)?;
        // The points must all be on one side of the horizon, or the map folds the plane.
        let side = hom.side(src[0].0, src[0].1);
        if src.iter().any(|p| hom.side(p.0, p.1) != side) {
            return Err(CalibrationError::DegeneratePoints);
        }
        let rms = hom
            .rms_error(pairs)
            .ok_or(CalibrationError::DegeneratePoints)?;
        Ok((hom, rms))
    }

    /// Root-mean-square distance between mapped `from` points and their `to` points.
    pub fn rms_error(&self, pairs: &PointPairs) -> Option<f64> {
        let mut sum = 0.0;
        for &((x, y), (u, v)) in pairs {
            let (a, b) = self.apply(x, y)?;
            sum += (a - u).powi(2) + (b - v).powi(2);
        }
        Some((sum / pairs.len().max(1) as f64).sqrt())
    }
}

/// Whether `(x, y)` lies inside the polygon `p` (even-odd rule; a point on an edge may fall
/// either way).
pub fn polygon_contains(p: &[(f64, f64)], x: f64, y: f64) -> bool {
    let mut inside = false;
    let mut j = p.len().wrapping_sub(1);
    for i in 0..p.len() {
        let (xi, yi) = p[i];
        let (xj, yj) = p[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

fn has_collinear_triple(p: &[(f64, f64)]) -> bool {
    let span = p.iter().fold(0.0f64, |m, a| {
        p.iter().fold(m, |m, b| m.max((a.0 - b.0).hypot(a.1 - b.1)))
    });
    if span <= 0.0 {
        return true;
    }
    let tol = 1e-6 * span * span;
    for i in 0..p.len() {
        for j in i + 1..p.len() {
            for k in j + 1..p.len() {
                let cross =
                    (p[j].0 - p[i].0) * (p[k].1 - p[i].1) - (p[j].1 - p[i].1) * (p[k].0 - p[i].0);
                if cross.abs() <= tol && p.len() == 4 {
                    return true;
                }
            }
        }
    }
    false
}

/// Hartley's similarity: centroid to the origin, mean distance √2.
fn normaliser(p: &[(f64, f64)]) -> Option<Matrix3<f64>> {
    let n = p.len() as f64;
    let (cx, cy) = p
        .iter()
        .fold((0.0, 0.0), |(a, b), q| (a + q.0 / n, b + q.1 / n));
    let mean = p.iter().map(|q| (q.0 - cx).hypot(q.1 - cy)).sum::<f64>() / n;
    if mean.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let s = std::f64::consts::SQRT_2 / mean;
    Some(Matrix3::new(
        s,
        0.0,
        -s * cx,
        0.0,
        s,
        -s * cy,
        0.0,
        0.0,
        1.0,
    ))
}

/// OpenCV's lens model: k1 k2 p1 p2 [k3 [k4 k5 k6]].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Distortion {
    k: [f64; 6],
    p: [f64; 2],
}

impl Distortion {
    pub fn from_coefficients(c: &[f64]) -> Result<Option<Self>, CalibrationError> {
        if c.iter().any(|v| !v.is_finite()) {
            return Err(CalibrationError::NotFinite("dist"));
        }
        if c.is_empty() || c.iter().all(|v| *v == 0.0) {
            return Ok(None);
        }
        if !matches!(c.len(), 4 | 5 | 8) {
            return Err(CalibrationError::BadDistortion(c.len()));
        }
        let g = |i: usize| c.get(i).copied().unwrap_or(0.0);
        Ok(Some(Self {
            k: [g(0), g(1), g(4), g(5), g(6), g(7)],
            p: [g(2), g(3)],
        }))
    }

    /// Ideal → distorted normalised coordinates.
    fn distort(&self, x: f64, y: f64) -> (f64, f64) {
        let r2 = x * x + y * y;
        let k = &self.k;
        let radial = (1.0 + r2 * (k[0] + r2 * (k[1] + r2 * k[2])))
            / (1.0 + r2 * (k[3] + r2 * (k[4] + r2 * k[5])));
        let dx = 2.0 * self.p[0] * x * y + self.p[1] * (r2 + 2.0 * x * x);
        let dy = self.p[0] * (r2 + 2.0 * y * y) + 2.0 * self.p[1] * x * y;
        (x * radial + dx, y * radial + dy)
    }

    /// Distorted → ideal normalised coordinates, by fixed-point iteration as OpenCV's
    /// `undistortPoints` does.
    fn undistort(&self, xd: f64, yd: f64) -> (f64, f64) {
        let (mut x, mut y) = (xd, yd);
        for _ in 0..20 {
            let (fx, fy) = self.distort(x, y);
            let (nx, ny) = (x + (xd - fx), y + (yd - fy));
            let done = (nx - x).abs() + (ny - y).abs() < 1e-12;
            (x, y) = (nx, ny);
            if done {
                break;
            }
        }
        (x, y)
    }
}

/// A camera's image → floor calibration, ready to map foot points.
#[derive(Debug, Clone)]
pub struct FloorCalibration {
    img_to_floor: Homography,
    floor_to_img: Homography,
    lens: Option<(Matrix3<f64>, Matrix3<f64>, Distortion)>,
    /// Reprojection error of the point pairs it was fitted to, in metres, where it was fitted.
    pub fit_rms_m: Option<f64>,
    /// The camera centre on the floor plane's frame, where K, R, t were given.
    pub centre: Option<[f64; 3]>,
    /// The sign of the depth of a floor point in front of the camera, where known.
    front_sign: Option<f64>,
}

/// The JSON forms a calibration arrives in (a scene's cameras.json, the REST API).
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct CalibrationSpec {
    #[serde(
        rename = "K",
        alias = "k",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub k: Option<[[f64; 3]; 3]>,
    #[serde(
        rename = "R",
        alias = "r",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub r: Option<[[f64; 3]; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rvec: Option<[f64; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<[f64; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dist: Option<Vec<f64>>,
    #[serde(
        rename = "H_img_to_floor",
        alias = "h_img_to_floor",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub h_img_to_floor: Option<[[f64; 3]; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<Vec<PointPair>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<[u32; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PointPair {
    pub image: [f64; 2],
    pub floor: [f64; 2],
}

fn matrix(rows: &[[f64; 3]; 3], name: &'static str) -> Result<Matrix3<f64>, CalibrationError> {
    let m = Matrix3::from_fn(|r, c| rows[r][c]);
    if m.iter().any(|v| !v.is_finite()) {
        return Err(CalibrationError::NotFinite(name));
    }
    Ok(m)
}

/// Rodrigues' formula: rotation vector → matrix.
pub fn rodrigues(r: [f64; 3]) -> Matrix3<f64> {
    let v = Vector3::new(r[0], r[1], r[2]);
    let theta = v.norm();
    if theta < 1e-15 {
        return Matrix3::identity();
    }
    let k = v / theta;
    let kx = Matrix3::new(0.0, -k.z, k.y, k.z, 0.0, -k.x, -k.y, k.x, 0.0);
    Matrix3::identity() + kx * theta.sin() + kx * kx * (1.0 - theta.cos())
}

impl FloorCalibration {
    /// A plain image → floor homography.
    pub fn from_homography(h: Homography) -> Result<Self, CalibrationError> {
        Ok(Self {
            floor_to_img: h.inverse()?,
            img_to_floor: h,
            lens: None,
            fit_rms_m: None,
            centre: None,
            front_sign: None,
        })
    }

    /// A pinhole camera: `x_cam = R · X + t`, pixels `K · x_cam`.
    pub fn from_pinhole(
        k: Matrix3<f64>,
        r: Matrix3<f64>,
        t: Vector3<f64>,
        dist: Option<Distortion>,
    ) -> Result<Self, CalibrationError> {
        if k[(0, 0)] <= 0.0
            || k[(1, 1)] <= 0.0
            || k[(2, 0)] != 0.0
            || k[(2, 1)] != 0.0
            || (k[(2, 2)] - 1.0).abs() > 1e-9
        {
            return Err(CalibrationError::BadIntrinsics);
        }
        if ((r.transpose() * r) - Matrix3::identity()).amax() > 1e-4
            || (r.determinant() - 1.0).abs() > 1e-4
        {
            return Err(CalibrationError::NotARotation);
        }
        if t.iter().any(|v| !v.is_finite()) {
            return Err(CalibrationError::NotFinite("t"));
        }
        let mut rt = Matrix3::zeros();
        rt.set_column(0, &r.column(0));
        rt.set_column(1, &r.column(1));
        rt.set_column(2, &t);
        let centre = -(r.transpose() * t);
        // A camera at or below the floor sees it edge-on or from under it.
        if centre.z.abs() < 1e-6 {
            return Err(CalibrationError::FloorNotVisible);
        }
        let floor_to_img = Homography::new(k * rt)?;
        let img_to_floor = floor_to_img.inverse()?;
        let lens = match dist {
            Some(d) => Some((
                k,
                k.try_inverse().ok_or(CalibrationError::BadIntrinsics)?,
                d,
            )),
            None => None,
        };
        Ok(Self {
            img_to_floor,
            floor_to_img,
            lens,
            fit_rms_m: None,
            centre: Some([centre.x, centre.y, centre.z]),
            front_sign: Some(1.0),
        })
    }

    /// Whatever the spec carries, preferring an explicit homography, then K/R/t, then point pairs.
    /// Distortion (with K) applies to all three.
    pub fn from_spec(spec: &CalibrationSpec) -> Result<Self, CalibrationError> {
        let dist = match &spec.dist {
            Some(c) => Distortion::from_coefficients(c)?,
            None => None,
        };
        let k = spec.k.as_ref().map(|k| matrix(k, "K")).transpose()?;
        let rot = match (&spec.r, spec.rvec) {
            (Some(r), _) => Some(matrix(r, "R")?),
            (None, Some(v)) if v.iter().all(|x| x.is_finite()) => Some(rodrigues(v)),
            (None, Some(_)) => return Err(CalibrationError::NotFinite("rvec")),
            (None, None) => None,
        };
        let lens_with = |mut cal: Self| -> Result<Self, CalibrationError> {
            if let (Some(k), Some(d)) = (k, dist.clone()) {
                cal.lens = Some((
                    k,
                    k.try_inverse().ok_or(CalibrationError::BadIntrinsics)?,
                    d,
                ));
            }
            Ok(cal)
        };
        if let Some(h) = &spec.h_img_to_floor {
            let mut cal = lens_with(Self::from_homography(Homography::from_rows(h)?)?)?;
            if let (Some(k), Some(r), Some(t)) = (k, rot, spec.t) {
                let c = -(r.transpose() * Vector3::new(t[0], t[1], t[2]));
                cal.centre = (k[(0, 0)] > 0.0).then_some([c.x, c.y, c.z]);
            }
            return Ok(cal);
        }
        if let (Some(k), Some(r), Some(t)) = (k, rot, spec.t) {
            return Self::from_pinhole(k, r, Vector3::new(t[0], t[1], t[2]), dist);
        }
        if let Some(points) = &spec.points {
            let mut cal = Self {
                img_to_floor: Homography(Matrix3::identity()),
                floor_to_img: Homography(Matrix3::identity()),
                lens: None,
                fit_rms_m: None,
                centre: None,
                front_sign: None,
            };
            cal = lens_with(cal)?;
            let pairs: Vec<_> = points
                .iter()
                .map(|p| {
                    let (u, v) = cal.undistort_pixel(p.image[0], p.image[1]);
                    ((u, v), (p.floor[0], p.floor[1]))
                })
                .collect();
            let (h, rms) = Homography::from_pairs(&pairs)?;
            cal.img_to_floor = h;
            cal.floor_to_img = h.inverse()?;
            cal.fit_rms_m = Some(rms);
            return Ok(cal);
        }
        Err(CalibrationError::Missing)
    }

    /// The ideal (distortion-free) pixel for a measured one.
    pub fn undistort_pixel(&self, u: f64, v: f64) -> (f64, f64) {
        match &self.lens {
            None => (u, v),
            Some((k, k_inv, d)) => {
                let n = k_inv * Vector3::new(u, v, 1.0);
                let (x, y) = d.undistort(n.x / n.z, n.y / n.z);
                let p = k * Vector3::new(x, y, 1.0);
                (p.x / p.z, p.y / p.z)
            }
        }
    }

    /// A measured pixel → the floor, metres. `None` above the horizon (where the pinhole is
    /// known: the ray would meet the floor behind the camera).
    pub fn to_floor(&self, u: f64, v: f64) -> Option<(f64, f64)> {
        let (u, v) = self.undistort_pixel(u, v);
        let (x, y) = self.img_to_floor.apply(u, v)?;
        if self
            .front_sign
            .is_some_and(|s| self.floor_to_img.side(x, y) != s)
        {
            return None;
        }
        Some((x, y))
    }

    /// A floor point → the ideal pixel (no distortion applied).
    pub fn to_image(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        self.floor_to_img.apply(x, y)
    }

    pub fn img_to_floor(&self) -> &Homography {
        &self.img_to_floor
    }

    /// Metres per pixel at an image point, along the image's vertical: how much a foot point's
    /// pixel error moves the floor estimate there.
    pub fn metres_per_pixel(&self, u: f64, v: f64) -> Option<f64> {
        let a = self.to_floor(u, v)?;
        let b = self.to_floor(u, v + 1.0)?;
        Some((a.0 - b.0).hypot(a.1 - b.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn camera() -> (Matrix3<f64>, Matrix3<f64>, Vector3<f64>) {
        let k = Matrix3::new(800.0, 0.0, 640.0, 0.0, 800.0, 360.0, 0.0, 0.0, 1.0);
        // Looking down at 35° from 4 m up, from the floor's origin along +y.
        let tilt = 35f64.to_radians();
        let r = Matrix3::new(
            1.0,
            0.0,
            0.0,
            0.0,
            -tilt.sin(),
            -tilt.cos(),
            0.0,
            tilt.cos(),
            -tilt.sin(),
        );
        let centre = Vector3::new(0.0, 0.0, 4.0);
        (k, r, -(r * centre))
    }

    #[test]
    fn pinhole_round_trip() {
        let (k, r, t) = camera();
        let cal = FloorCalibration::from_pinhole(k, r, t, None).unwrap();
        let c = cal.centre.unwrap();
        assert!((c[2] - 4.0).abs() < 1e-9);
        for &(x, y) in &[(0.0, 5.0), (2.0, 8.0), (-3.0, 12.0)] {
            let (u, v) = cal.to_image(x, y).unwrap();
            let (x2, y2) = cal.to_floor(u, v).unwrap();
            assert!(
                (x - x2).abs() < 1e-9 && (y - y2).abs() < 1e-9,
                "{x},{y} → {u},{v} → {x2},{y2}"
            );
        }
    }

    #[test]
    fn pairs_recover_the_homography() {
        let (k, r, t) = camera();
        let cal = FloorCalibration::from_pinhole(k, r, t, None).unwrap();
        let floor = [(0.0, 4.0), (3.0, 5.0), (-2.0, 9.0), (1.0, 12.0), (4.0, 7.0)];
        let pairs: Vec<_> = floor
            .iter()
            .map(|&(x, y)| (cal.to_image(x, y).unwrap(), (x, y)))
            .collect();
        let (h, rms) = Homography::from_pairs(&pairs).unwrap();
        assert!(rms < 1e-6, "rms {rms}");
        let (x, y) = h.apply(640.0, 500.0).unwrap();
        let (x2, y2) = cal.to_floor(640.0, 500.0).unwrap();
        assert!((x - x2).abs() < 1e-6 && (y - y2).abs() < 1e-6);
    }

    #[test]
    fn degenerate_inputs_are_refused() {
        let line = [
            ((0.0, 0.0), (0.0, 0.0)),
            ((1.0, 1.0), (1.0, 0.0)),
            ((2.0, 2.0), (2.0, 0.0)),
            ((3.0, 3.0), (3.0, 1.0)),
        ];
        assert_eq!(
            Homography::from_pairs(&line).unwrap_err(),
            CalibrationError::DegeneratePoints
        );
        assert_eq!(
            Homography::from_pairs(&line[..3]).unwrap_err(),
            CalibrationError::TooFewPoints(3)
        );
        let flat = Matrix3::new(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0) * 0.0;
        assert_eq!(
            Homography::new(flat).unwrap_err(),
            CalibrationError::Degenerate
        );
        let rank2 = Matrix3::new(1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 0.0, 0.0, 1.0);
        assert_eq!(
            Homography::new(rank2).unwrap_err(),
            CalibrationError::Degenerate
        );
        let nan = Matrix3::new(f64::NAN, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0);
        assert!(matches!(
            Homography::new(nan),
            Err(CalibrationError::NotFinite(_))
        ));
        let (k, _, t) = camera();
        let skew = Matrix3::new(1.0, 0.5, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0);
        assert_eq!(
            FloorCalibration::from_pinhole(k, skew, t, None).unwrap_err(),
            CalibrationError::NotARotation
        );
        assert_eq!(
            FloorCalibration::from_spec(&CalibrationSpec::default()).unwrap_err(),
            CalibrationError::Missing
        );
    }

    #[test]
    fn rodrigues_matches_the_matrix() {
        let r = rodrigues([0.0, 0.0, std::f64::consts::FRAC_PI_2]);
        let p = r * Vector3::new(1.0, 0.0, 0.0);
        assert!((p - Vector3::new(0.0, 1.0, 0.0)).norm() < 1e-12);
    }

    #[test]
    fn distortion_round_trip_and_mapping() {
        let (k, r, t) = camera();
        let d = Distortion::from_coefficients(&[-0.25, 0.08, 0.001, -0.0005, 0.0])
            .unwrap()
            .unwrap();
        let cal = FloorCalibration::from_pinhole(k, r, t, Some(d.clone())).unwrap();
        // Distort an ideal pixel the way a lens does, then map the measured pixel.
        let (x, y) = (1.5, 6.0);
        let (u, v) = cal.to_image(x, y).unwrap();
        let n = k.try_inverse().unwrap() * Vector3::new(u, v, 1.0);
        let (dx, dy) = d.distort(n.x, n.y);
        let m = k * Vector3::new(dx, dy, 1.0);
        assert!((m.x - u).abs() > 1.0, "the lens moved the pixel");
        let (x2, y2) = cal.to_floor(m.x, m.y).unwrap();
        assert!((x - x2).abs() < 1e-6 && (y - y2).abs() < 1e-6, "{x2},{y2}");
        assert_eq!(
            Distortion::from_coefficients(&[0.1, 0.2, 0.3]).unwrap_err(),
            CalibrationError::BadDistortion(3)
        );
    }

    proptest! {
        #[test]
        fn any_fitted_homography_reprojects_its_points(
            pts in proptest::collection::vec((-10.0f64..10.0, 1.0f64..20.0), 6..12)
        ) {
            let (k, r, t) = camera();
            let cal = FloorCalibration::from_pinhole(k, r, t, None).unwrap();
            let pairs: Vec<_> = pts.iter().map(|&(x, y)| (cal.to_image(x, y).unwrap(), (x, y))).collect();
            if let Ok((h, rms)) = Homography::from_pairs(&pairs) {
                prop_assert!(rms < 1e-4, "rms {}", rms);
                prop_assert!(h.rms_error(&pairs).unwrap() < 1e-4);
            }
        }
    }
}
