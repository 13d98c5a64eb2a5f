//! One camera's multi-object tracker: a Kalman filter per person, associated in ByteTrack's
//! stages (confident boxes first, then weak boxes for tracks that would otherwise be lost, then
//! tentative tracks), with appearance fused into the first stage where embeddings are given
//! (BoT-SORT's rule) and boxes enlarged before overlap (C-BIoU) so that slow frame rates and
//! sharp turns still associate.

use crate::assign::assign;
use crate::kalman::{xywh_to_xyah, BoxKalman};
use serde::{Deserialize, Serialize};

/// One detection in a frame. `bbox` is `(x, y, w, h)`, top-left corner, pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub bbox: [f64; 4],
    pub score: f64,
    /// L2-normalised appearance vector, where an embedder gave one.
    pub embedding: Option<Vec<f32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackState {
    Tentative,
    Confirmed,
    Lost,
    Removed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// Boxes at or above this score start and keep tracks (stage 1).
    pub high_score: f64,
    /// Boxes between this and `high_score` only keep existing tracks alive (stage 2).
    pub low_score: f64,
    /// A new track needs a box at least this confident.
    pub new_track_score: f64,
    /// Stage 1 accepts a pair below this cost (1 − IoU, or the appearance cost).
    pub match_cost: f64,
    /// Stage 2 (weak boxes) accepts a pair below this cost.
    pub low_match_cost: f64,
    /// Tentative tracks accept a pair below this cost.
    pub tentative_match_cost: f64,
    /// Matched frames before a track is reported.
    pub min_hits: u32,
    /// How long a lost track can come back, seconds.
    pub lost_timeout_s: f64,
    /// Each side of a box grows by this share of its size before overlap is measured.
    pub box_buffer: f64,
    /// Appearance cost (half the cosine distance) above which appearance does not vouch.
    pub appearance_gate: f64,
    /// Appearance only vouches for a pair whose overlap cost is below this.
    pub proximity_gate: f64,
    /// Weight of a new appearance sample in a track's running mean.
    pub appearance_momentum: f64,
    /// How far a person may move in a second, in heights of their own box: with the frame
    /// rate it sets the centre-distance gate that takes over where boxes stop overlapping
    /// between frames (slow frame rates, fast walkers).
    pub max_speed_heights_per_s: f64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            high_score: 0.5,
            low_score: 0.1,
            new_track_score: 0.6,
            match_cost: 0.8,
            low_match_cost: 0.5,
            tentative_match_cost: 0.7,
            min_hits: 2,
            lost_timeout_s: 2.0,
            box_buffer: 0.3,
            appearance_gate: 0.25,
            proximity_gate: 0.5,
            appearance_momentum: 0.1,
            max_speed_heights_per_s: 1.0,
        }
    }
}

impl TrackerConfig {
    pub fn validate(&self) -> Result<(), String> {
        let unit = |v: f64, name: &str| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} must be within 0..=1, got {v}"))
            }
        };
        unit(self.high_score, "high_score")?;
        unit(self.low_score, "low_score")?;
        unit(self.new_track_score, "new_track_score")?;
        unit(self.appearance_momentum, "appearance_momentum")?;
        if self.low_score > self.high_score {
            return Err("low_score must not exceed high_score".into());
        }
        for (v, n) in [
            (self.match_cost, "match_cost"),
            (self.low_match_cost, "low_match_cost"),
            (self.tentative_match_cost, "tentative_match_cost"),
        ] {
            if !(v > 0.0 && v <= 2.0) {
                return Err(format!("{n} must be within (0, 2], got {v}"));
            }
        }
        if self.lost_timeout_s.is_nan()
            || self.lost_timeout_s < 0.0
            || !self.lost_timeout_s.is_finite()
            || !(0.0..=2.0).contains(&self.box_buffer)
            || self.min_hits == 0
        {
            return Err(
                "lost_timeout_s ≥ 0, box_buffer within 0..=2 and min_hits ≥ 1 are required".into(),
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Track {
    id: u64,
    kf: BoxKalman,
    state: TrackState,
    hits: u32,
    last_frame: u64,
    score: f64,
    feature: Option<Vec<f32>>,
    detection: Option<usize>,
    start_frame: u64,
}

/// What a tracker reports for a frame: confirmed tracks matched in it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackOutput {
    pub id: u64,
    /// The filtered box, `(x, y, w, h)`.
    pub bbox: [f64; 4],
    pub score: f64,
    /// Index of the detection it was matched to in this frame's list.
    pub detection: usize,
    /// Frames since the track started.
    pub age: u64,
}

/// A single camera's tracker. Feed it frames in order; frame numbers may skip (dropped or
/// skipped frames), the filters advance by the gap.
#[derive(Debug)]
pub struct Tracker {
    cfg: TrackerConfig,
    fps: f64,
    tracks: Vec<Track>,
    next_id: u64,
    last_frame: Option<u64>,
}

pub fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let (ax2, ay2, bx2, by2) = (a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]);
    let iw = (ax2.min(bx2) - a[0].max(b[0])).max(0.0);
    let ih = (ay2.min(by2) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

fn buffered(b: [f64; 4], k: f64) -> [f64; 4] {
    [
        b[0] - k * b[2],
        b[1] - k * b[3],
        b[2] * (1.0 + 2.0 * k),
        b[3] * (1.0 + 2.0 * k),
    ]
}

/// Greedy non-maximum suppression: keeps the most confident box of every group overlapping by
/// more than `iou_limit`, drops boxes under `min_score`, and leaves out boxes outside `roi`
/// (a `(x, y, w, h)` region whose foot point must lie inside) where one is given.
pub fn suppress(
    mut dets: Vec<Detection>,
    iou_limit: f64,
    min_score: f64,
    roi: Option<[f64; 4]>,
) -> Vec<Detection> {
    dets.retain(|d| {
        let (fx, fy) = (d.bbox[0] + d.bbox[2] / 2.0, d.bbox[1] + d.bbox[3]);
        d.score >= min_score
            && roi
                .is_none_or(|r| fx >= r[0] && fx <= r[0] + r[2] && fy >= r[1] && fy <= r[1] + r[3])
    });
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        if kept.iter().all(|k| iou(k.bbox, d.bbox) <= iou_limit) {
            kept.push(d);
        }
    }
    kept
}

/// Half the cosine distance of two L2-normalised vectors (0 same, 1 opposite).
pub fn appearance_cost(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    ((1.0 - dot) / 2.0).clamp(0.0, 1.0)
}

/// Scales a vector to unit length in place; false when it has none.
pub fn normalise(v: &mut [f32]) -> bool {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !(n > 0.0 && n.is_finite()) {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= n);
    true
}

impl Tracker {
    pub fn new(cfg: TrackerConfig, fps: f64) -> Self {
        Self {
            cfg,
            fps: if fps > 0.0 { fps } else { 10.0 },
            tracks: Vec::new(),
            next_id: 1,
            last_frame: None,
        }
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    /// Tracks not yet removed (tentative, confirmed or lost).
    pub fn live_tracks(&self) -> usize {
        self.tracks.len()
    }

    fn max_lost_frames(&self) -> u64 {
        (self.cfg.lost_timeout_s * self.fps).round().max(1.0) as u64
    }

    fn costs(
        &self,
        tracks: &[usize],
        dets: &[&Detection],
        buffer: f64,
        with_appearance: bool,
    ) -> Vec<Vec<f64>> {
        tracks
            .iter()
            .map(|&t| {
                let tr = &self.tracks[t];
                let tb = buffered(tr.kf.xywh(), buffer);
                dets.iter()
                    .map(|d| {
                        let iou_cost = if buffer > 0.0 {
                            let overlap = 1.0 - iou(tb, buffered(d.bbox, buffer));
                            overlap.min(self.motion_cost(tr, d.bbox))
                        } else {
                            1.0 - iou(tb, d.bbox)
                        };
                        match (with_appearance, &tr.feature, &d.embedding) {
                            (true, Some(f), Some(e)) => {
                                let a = appearance_cost(f, e);
                                let a = if a > self.cfg.appearance_gate
                                    || iou_cost > self.cfg.proximity_gate
                                {
                                    1.0
                                } else {
                                    a
                                };
                                iou_cost.min(a)
                            }
                            _ => iou_cost,
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Centre distance between the predicted and the detected box over the distance the
    /// person could have moved since the track was last matched (0 same place, 1 the gate).
    fn motion_cost(&self, tr: &Track, b: [f64; 4]) -> f64 {
        if self.cfg.max_speed_heights_per_s <= 0.0 {
            return f64::INFINITY;
        }
        let p = tr.kf.xywh();
        let ratio = p[3].max(b[3]) / p[3].min(b[3]).max(1e-6);
        if ratio > 1.5 {
            return f64::INFINITY;
        }
        let frames = self
            .last_frame
            .map_or(1, |f| f.saturating_sub(tr.last_frame).max(1)) as f64;
        let h = (p[3] + b[3]) / 2.0;
        let gate = h * (0.25 + self.cfg.max_speed_heights_per_s * frames / self.fps);
        let d = ((p[0] + p[2] / 2.0) - (b[0] + b[2] / 2.0))
            .hypot((p[1] + p[3] / 2.0) - (b[1] + b[3] / 2.0));
        (d / gate).max(0.0)
    }

    fn apply_match(
        &mut self,
        t: usize,
        det: &Detection,
        index: usize,
        frame: u64,
        learn_appearance: bool,
    ) {
        let tr = &mut self.tracks[t];
        tr.kf.update(xywh_to_xyah(det.bbox));
        tr.hits += 1;
        tr.last_frame = frame;
        tr.score = det.score;
        tr.detection = Some(index);
        if tr.state == TrackState::Lost {
            tr.state = TrackState::Confirmed;
        }
        if learn_appearance {
            if let Some(e) = &det.embedding {
                match &mut tr.feature {
                    None => tr.feature = Some(e.clone()),
                    Some(f) => {
                        let m = self.cfg.appearance_momentum as f32;
                        f.iter_mut()
                            .zip(e)
                            .for_each(|(a, b)| *a = (1.0 - m) * *a + m * b);
                        normalise(f);
                    }
                }
            }
        }
    }

    /// Advances to `frame` with its detections; returns the confirmed tracks matched in it.
    pub fn update(&mut self, frame: u64, detections: &[Detection]) -> Vec<TrackOutput> {
        let dt = match self.last_frame {
            Some(last) if frame > last => (frame - last) as f64,
            Some(_) => 0.0,
            None => 1.0,
        };
        let first_frame = self.last_frame.is_none();
        self.last_frame = Some(frame);
        let time_scale = crate::kalman::REFERENCE_FPS / self.fps;
        for tr in &mut self.tracks {
            tr.detection = None;
            if dt > 0.0 {
                tr.kf.predict(dt * time_scale);
            }
        }
        let valid = |d: &&Detection| {
            d.bbox[2] > 0.0
                && d.bbox[3] > 0.0
                && d.bbox.iter().all(|v| v.is_finite())
                && d.score.is_finite()
        };
        let high: Vec<usize> = (0..detections.len())
            .filter(|&i| valid(&&detections[i]) && detections[i].score >= self.cfg.high_score)
            .collect();
        let low: Vec<usize> = (0..detections.len())
            .filter(|&i| {
                valid(&&detections[i])
                    && detections[i].score >= self.cfg.low_score
                    && detections[i].score < self.cfg.high_score
            })
            .collect();

        // Stage 1: confirmed and lost tracks against confident boxes, appearance fused.
        let pool: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| {
                matches!(
                    self.tracks[t].state,
                    TrackState::Confirmed | TrackState::Lost
                )
            })
            .collect();
        let high_dets: Vec<&Detection> = high.iter().map(|&i| &detections[i]).collect();
        let c = self.costs(&pool, &high_dets, self.cfg.box_buffer, true);
        let m1 = assign(&c, self.cfg.match_cost);
        let mut det_used = vec![false; high.len()];
        let mut track_used = vec![false; self.tracks.len()];
        for &(r, k) in &m1 {
            self.apply_match(pool[r], &detections[high[k]], high[k], frame, true);
            det_used[k] = true;
            track_used[pool[r]] = true;
        }

        // Stage 2: tracks that were being followed, against weak boxes, plain overlap.
        let pending: Vec<usize> = pool
            .iter()
            .copied()
            .filter(|&t| !track_used[t] && self.tracks[t].state == TrackState::Confirmed)
            .collect();
        let low_dets: Vec<&Detection> = low.iter().map(|&i| &detections[i]).collect();
        let c2 = self.costs(&pending, &low_dets, 0.0, false);
        for (r, k) in assign(&c2, self.cfg.low_match_cost) {
            self.apply_match(pending[r], &detections[low[k]], low[k], frame, false);
            track_used[pending[r]] = true;
        }
        for &t in &pending {
            if !track_used[t] {
                self.tracks[t].state = TrackState::Lost;
            }
        }

        // Stage 3: tentative tracks against the confident boxes left.
        let tentative: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| self.tracks[t].state == TrackState::Tentative)
            .collect();
        let rest: Vec<usize> = (0..high.len()).filter(|&k| !det_used[k]).collect();
        let rest_dets: Vec<&Detection> = rest.iter().map(|&k| &detections[high[k]]).collect();
        let c3 = self.costs(&tentative, &rest_dets, self.cfg.box_buffer, true);
        for (r, k) in assign(&c3, self.cfg.tentative_match_cost) {
            let t = tentative[r];
            self.apply_match(t, &detections[high[rest[k]]], high[rest[k]], frame, true);
            det_used[rest[k]] = true;
            track_used[t] = true;
            if self.tracks[t].hits >= self.cfg.min_hits {
                self.tracks[t].state = TrackState::Confirmed;
            }
        }
        for &t in &tentative {
            if !track_used[t] {
                self.tracks[t].state = TrackState::Removed;
            }
        }

        // New tracks from confident boxes nobody claimed.
        for (k, &i) in high.iter().enumerate() {
            let d = &detections[i];
            if det_used[k] || d.score < self.cfg.new_track_score {
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            let state = if first_frame || self.cfg.min_hits <= 1 {
                TrackState::Confirmed
            } else {
                TrackState::Tentative
            };
            self.tracks.push(Track {
                id,
                kf: BoxKalman::new(xywh_to_xyah(d.bbox)),
                state,
                hits: 1,
                last_frame: frame,
                score: d.score,
                feature: d.embedding.clone(),
                detection: Some(i),
                start_frame: frame,
            });
        }

        // Expire lost tracks; drop a lost track that duplicates a followed one.
        let max_lost = self.max_lost_frames();
        for tr in &mut self.tracks {
            if tr.state == TrackState::Lost && frame.saturating_sub(tr.last_frame) > max_lost {
                tr.state = TrackState::Removed;
            }
        }
        self.remove_duplicates();
        self.tracks.retain(|t| t.state != TrackState::Removed);

        let mut out: Vec<TrackOutput> = self
            .tracks
            .iter()
            .filter(|t| t.state == TrackState::Confirmed && t.last_frame == frame)
            .filter_map(|t| {
                Some(TrackOutput {
                    id: t.id,
                    bbox: t.kf.xywh(),
                    score: t.score,
                    detection: t.detection?,
                    age: frame.saturating_sub(t.start_frame),
                })
            })
            .collect();
        out.sort_by_key(|o| o.id);
        out
    }

    fn remove_duplicates(&mut self) {
        let followed: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| self.tracks[t].state == TrackState::Confirmed)
            .collect();
        let lost: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| self.tracks[t].state == TrackState::Lost)
            .collect();
        for &a in &followed {
            for &b in &lost {
                if iou(self.tracks[a].kf.xywh(), self.tracks[b].kf.xywh()) > 0.85 {
                    let (ta, tb) = (&self.tracks[a], &self.tracks[b]);
                    let drop = if ta.last_frame - ta.start_frame >= tb.last_frame - tb.start_frame {
                        b
                    } else {
                        a
                    };
                    self.tracks[drop].state = TrackState::Removed;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f64, y: f64, score: f64) -> Detection {
        Detection {
            bbox: [x, y, 40.0, 100.0],
            score,
            embedding: None,
        }
    }

    #[test]
    fn two_walkers_keep_their_ids_through_a_weak_frame_and_a_miss() {
        let mut t = Tracker::new(TrackerConfig::default(), 10.0);
        let mut ids = std::collections::BTreeMap::new();
        for f in 1..=40u64 {
            let a = det(
                100.0 + 4.0 * f as f64,
                200.0,
                if f == 10 { 0.3 } else { 0.9 },
            );
            let b = det(600.0 - 4.0 * f as f64, 220.0, 0.9);
            let dets = if f == 20 { vec![b.clone()] } else { vec![a, b] };
            for o in t.update(f, &dets) {
                let which = if (o.bbox[1] - 200.0).abs() < 10.0 {
                    'a'
                } else {
                    'b'
                };
                ids.entry(which)
                    .or_insert_with(std::collections::BTreeSet::new)
                    .insert(o.id);
            }
        }
        assert_eq!(ids[&'a'].len(), 1, "{ids:?}");
        assert_eq!(ids[&'b'].len(), 1, "{ids:?}");
    }

    #[test]
    fn a_single_false_positive_never_becomes_a_track() {
        let mut t = Tracker::new(TrackerConfig::default(), 10.0);
        t.update(1, &[det(10.0, 10.0, 0.9)]);
        let out = t.update(2, &[det(10.0, 10.0, 0.9), det(500.0, 300.0, 0.95)]);
        assert_eq!(out.len(), 1);
        let out = t.update(3, &[det(10.0, 10.0, 0.9)]);
        assert_eq!(out.len(), 1);
        assert_eq!(t.live_tracks(), 1, "the one-frame box is gone");
    }

    #[test]
    fn a_lost_track_comes_back_within_its_timeout_only() {
        let mut t = Tracker::new(
            TrackerConfig {
                lost_timeout_s: 1.0,
                ..TrackerConfig::default()
            },
            10.0,
        );
        for f in 1..=5 {
            t.update(f, &[det(100.0, 100.0, 0.9)]);
        }
        for f in 6..=12 {
            assert!(t.update(f, &[]).is_empty());
        }
        let back = t.update(13, &[det(100.0, 100.0, 0.9)]);
        assert_eq!(back.first().map(|o| o.id), Some(1));
        for f in 14..=40 {
            t.update(f, &[]);
        }
        assert_eq!(t.live_tracks(), 0);
    }

    #[test]
    fn appearance_separates_crossing_people() {
        let e = |v: f32| {
            let mut x = vec![v, 1.0 - v, 0.2];
            normalise(&mut x);
            Some(x)
        };
        let mut t = Tracker::new(TrackerConfig::default(), 10.0);
        let mut by_colour: std::collections::BTreeMap<u8, std::collections::BTreeSet<u64>> =
            Default::default();
        for f in 1..=30u64 {
            // Two people cross at frame 15; the appearance vectors tell them apart.
            let xa = 100.0 + 10.0 * f as f64;
            let xb = 400.0 - 10.0 * f as f64;
            let dets = vec![
                Detection {
                    bbox: [xa, 200.0, 40.0, 100.0],
                    score: 0.9,
                    embedding: e(1.0),
                },
                Detection {
                    bbox: [xb, 205.0, 40.0, 100.0],
                    score: 0.9,
                    embedding: e(0.0),
                },
            ];
            for o in t.update(f, &dets) {
                by_colour.entry(o.detection as u8).or_default().insert(o.id);
            }
        }
        assert_eq!(by_colour[&0].len(), 1, "{by_colour:?}");
        assert_eq!(by_colour[&1].len(), 1, "{by_colour:?}");
    }

    #[test]
    fn suppression_keeps_the_best_of_each_group() {
        let d = |x: f64, s: f64| Detection {
            bbox: [x, 0.0, 40.0, 100.0],
            score: s,
            embedding: None,
        };
        let kept = suppress(
            vec![d(0.0, 0.7), d(4.0, 0.9), d(200.0, 0.6), d(400.0, 0.3)],
            0.5,
            0.5,
            None,
        );
        assert_eq!(
            kept.iter().map(|k| k.bbox[0]).collect::<Vec<_>>(),
            vec![4.0, 200.0]
        );
        let kept = suppress(
            vec![d(0.0, 0.9), d(200.0, 0.9)],
            0.5,
            0.5,
            Some([100.0, 0.0, 500.0, 500.0]),
        );
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].bbox[0], 200.0);
    }

    #[test]
    fn bad_boxes_are_ignored_and_configs_are_checked() {
        let mut t = Tracker::new(TrackerConfig::default(), 10.0);
        let bad = [
            Detection {
                bbox: [f64::NAN, 0.0, 10.0, 10.0],
                score: 0.9,
                embedding: None,
            },
            Detection {
                bbox: [0.0, 0.0, 0.0, 10.0],
                score: 0.9,
                embedding: None,
            },
        ];
        assert!(t.update(1, &bad).is_empty());
        assert_eq!(t.live_tracks(), 0);
        assert!(TrackerConfig {
            low_score: 0.9,
            ..TrackerConfig::default()
        }
        .validate()
        .is_err());
        assert!(TrackerConfig::default().validate().is_ok());
    }
}
