//! OVERSPEED: over a limit for at least `min_duration_s` — the rule's own limit, or the
//! lowest speed limit of the geofences the vehicle is in, whichever is lower. Raised at the
//! start of the excess; clears at or under the limit minus `clear_margin_kmh`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{non_negative, positive, Check, Cx};
use crate::geo::FenceIndex;
use crate::rules::logic::Sample;
use crate::rules::RuleError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Overspeed {
    /// The rule's own limit; without one only geofence limits apply.
    pub limit_kmh: Option<f64>,
    pub use_geofence_limits: bool,
    pub min_duration_s: f64,
    /// Clears when the speed is back at or under the limit minus this.
    pub clear_margin_kmh: f64,
}

impl Default for Overspeed {
    fn default() -> Self {
        Self {
            limit_kmh: None,
            use_geofence_limits: true,
            min_duration_s: 10.0,
            clear_margin_kmh: 0.0,
        }
    }
}

impl Check for Overspeed {
    fn validate(&self) -> Result<(), RuleError> {
        if let Some(l) = self.limit_kmh {
            positive("limit_kmh", l)?;
        } else if !self.use_geofence_limits {
            return Err(RuleError::Invalid(
                "OVERSPEED needs limit_kmh or use_geofence_limits".into(),
            ));
        }
        non_negative("min_duration_s", self.min_duration_s)?;
        non_negative("clear_margin_kmh", self.clear_margin_kmh)
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        let fence = s.fence_limit.filter(|_| self.use_geofence_limits);
        let limit = match (self.limit_kmh, fence) {
            (Some(a), Some((b, id))) if b < a => Some((b, Some(id))),
            (Some(a), _) => Some((a, None)),
            (None, Some((b, id))) => Some((b, Some(id))),
            (None, None) => None,
        };
        let Some((limit, fence_id)) = limit else {
            cx.memory().since_ms = None;
            cx.end("", s.at_ms);
            return;
        };
        if s.speed_kmh > limit {
            let m = cx.memory();
            let since = *m.since_ms.get_or_insert(s.at_ms);
            m.peak = if s.at_ms == since {
                s.speed_kmh
            } else {
                m.peak.max(s.speed_kmh)
            };
            if (s.at_ms - since) as f64 >= self.min_duration_s * 1000.0 {
                let (speed, peak) = (s.speed_kmh, m.peak);
                cx.begin("", since, || {
                    (
                        format!("Speed {speed:.0} km/h over the limit of {limit:.0} km/h"),
                        json!({"speed_kmh": speed, "limit_kmh": limit, "max_speed_kmh": peak, "geofence_id": fence_id, "since_ms": since}),
                    )
                });
            }
        } else if s.speed_kmh <= limit - self.clear_margin_kmh {
            cx.memory().since_ms = None;
            cx.end("", s.at_ms);
        }
    }

    fn late(&self, s: &Sample, fences: &FenceIndex) -> Option<Value> {
        let fence = self
            .use_geofence_limits
            .then(|| lowest_limit(fences, s.position))
            .flatten();
        let limit = match (self.limit_kmh, fence) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        limit
            .filter(|l| s.speed_kmh > *l)
            .map(|l| json!({"speed_kmh": s.speed_kmh, "limit_kmh": l}))
    }
}

/// The lowest speed limit among the fences at a position (late readings: the fence
/// geometry at the fix, since membership only follows live fixes).
fn lowest_limit(fences: &FenceIndex, position: Option<(f64, f64)>) -> Option<f64> {
    let (lat, lon) = position?;
    if fences.is_empty() {
        return None;
    }
    fences
        .containing(lat, lon)
        .into_iter()
        .filter_map(|id| fences.get(id).and_then(|f| f.speed_limit_kmh))
        .min_by(f64::total_cmp)
}
