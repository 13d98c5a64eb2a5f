//! A weight-free appearance vector: colour histograms of horizontal stripes of a person's box.
//!
//! Honest about its limits: it tells a red coat from a blue one and a light top over dark
//! trousers from the reverse; it does not tell two people in similar clothes apart, and it
//! changes with the light and the camera's colour balance. Pixels near the box's vertical
//! centre line count more (they are more often the person than the background).

use opencv::core::Mat;
use opencv::prelude::*;

/// Stripes from head to feet (the top tenth of the box, mostly hair or background, is skipped).
const STRIPES: usize = 6;
const HUE_BINS: usize = 8;
const SAT_BINS: usize = 3;
/// Achromatic pixels (low saturation or dark) go by brightness into these bins instead.
const GREY_BINS: usize = 4;
const PER_STRIPE: usize = HUE_BINS * SAT_BINS + GREY_BINS;

/// The vector for box `(x, y, w, h)` of an 8-bit HSV frame (OpenCV's H in 0..180), L2-normalised
/// (Hellinger: square roots of the weighted frequencies). `None` for a box with no pixels in
/// the frame.
pub fn stripe_histogram(hsv: &Mat, b: [f64; 4]) -> Result<Option<Vec<f32>>, opencv::Error> {
    let (cols, rows) = (hsv.cols().max(0) as usize, hsv.rows().max(0) as usize);
    if hsv.channels() != 3 || cols == 0 || rows == 0 {
        return Ok(None);
    }
    let data = hsv.data_bytes()?;
    let x0 = b[0].max(0.0) as usize;
    let x1 = ((b[0] + b[2]).min(cols as f64)).max(0.0) as usize;
    let y_top = b[1] + 0.1 * b[3];
    let y0 = y_top.max(0.0) as usize;
    let y1 = ((b[1] + b[3]).min(rows as f64)).max(0.0) as usize;
    if x1 <= x0 || y1 <= y0 {
        return Ok(None);
    }
    let mut hist = vec![0f32; STRIPES * PER_STRIPE];
    let cx = b[0] + b[2] / 2.0;
    let sigma = (b[2] / 4.0).max(1.0);
    let stripe_h = (0.9 * b[3] / STRIPES as f64).max(1e-6);
    // Sample on a grid of at most ~48×96 points: enough for a histogram, cheap for big boxes.
    let step_x = ((x1 - x0) / 48).max(1);
    let step_y = ((y1 - y0) / 96).max(1);
    for y in (y0..y1).step_by(step_y) {
        let stripe = (((y as f64 - y_top) / stripe_h) as usize).min(STRIPES - 1);
        for x in (x0..x1).step_by(step_x) {
            let i = (y * cols + x) * 3;
            let (Some(&h), Some(&s), Some(&v)) = (data.get(i), data.get(i + 1), data.get(i + 2))
            else {
                continue;
            };
            let w = (-((x as f64 - cx).powi(2)) / (2.0 * sigma * sigma)).exp() as f32;
            let bin = if s < 40 || v < 40 {
                HUE_BINS * SAT_BINS + (usize::from(v) * GREY_BINS / 256)
            } else {
                let hb = (usize::from(h) * HUE_BINS / 180).min(HUE_BINS - 1);
                let sb = ((usize::from(s) - 40) * SAT_BINS / 216).min(SAT_BINS - 1);
                hb * SAT_BINS + sb
            };
            hist[stripe * PER_STRIPE + bin] += w;
        }
    }
    // Each stripe sums to one, so a stripe's share of the vector does not depend on its size.
    for s in hist.chunks_mut(PER_STRIPE) {
        let total: f32 = s.iter().sum();
        if total > 0.0 {
            s.iter_mut().for_each(|v| *v = (*v / total).sqrt());
        }
    }
    Ok(urbanstream_vision::tracker::normalise(&mut hist).then_some(hist))
}
