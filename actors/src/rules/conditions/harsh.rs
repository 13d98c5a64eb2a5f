//! HARSH_BRAKING and HARSH_ACCELERATION: the speed changing faster than
//! `threshold_kmh_per_s` between two fixes at most `max_gap_s` apart, or the tracker's own
//! green-driving report (IO 253: 1 acceleration, 2 braking). Occurrences of an instant: a
//! repeat counts on the open alert, which clears after `hold_s` without another.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{positive, secs_to_ms, Check, Cx};
use crate::rules::logic::Sample;
use crate::rules::RuleError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Harsh {
    /// Speed change per second (12 km/h/s ≈ 0.34 g).
    pub threshold_kmh_per_s: f64,
    /// Two fixes further apart than this are not compared.
    pub max_gap_s: f64,
    /// Take the device's own green-driving report (IO 253) when it sends one.
    pub use_device_events: bool,
    /// Without another event for this long, the alert clears.
    pub hold_s: f64,
}

impl Default for Harsh {
    fn default() -> Self {
        Self {
            threshold_kmh_per_s: 12.0,
            max_gap_s: 3.0,
            use_device_events: true,
            hold_s: 600.0,
        }
    }
}

/// The condition in one direction: braking (`true`) or acceleration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Directed<const BRAKING: bool>(Harsh);

pub type HarshBraking = Directed<true>;
pub type HarshAcceleration = Directed<false>;

impl<const BRAKING: bool> Check for Directed<BRAKING> {
    fn validate(&self) -> Result<(), RuleError> {
        self.0.validate()
    }

    fn hold_ms(&self) -> Option<i64> {
        Some(secs_to_ms(self.0.hold_s))
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        self.0.sample(BRAKING, s, cx);
    }
}

impl Harsh {
    fn validate(&self) -> Result<(), RuleError> {
        positive("threshold_kmh_per_s", self.threshold_kmh_per_s)?;
        positive("max_gap_s", self.max_gap_s)?;
        positive("hold_s", self.hold_s)
    }

    fn sample(&self, braking: bool, s: &Sample, cx: &mut Cx<'_>) {
        if let Some(details) = self.hit(braking, s, cx.delta) {
            let what = if braking {
                "Harsh braking"
            } else {
                "Harsh acceleration"
            };
            cx.pulse("", s.at_ms, || (what.to_owned(), details));
        }
    }

    fn hit(&self, braking: bool, s: &Sample, delta: Option<(f64, f64)>) -> Option<Value> {
        if let Some(code) = s.green_driving.filter(|_| self.use_device_events) {
            let wanted = if braking { 2 } else { 1 };
            return (code == wanted)
                .then(|| json!({"source": "device", "green_driving_type": code}));
        }
        let (from, dt) = delta?;
        let rate = (s.speed_kmh - from) / dt;
        let rate = if braking { -rate } else { rate };
        (dt <= self.max_gap_s && rate >= self.threshold_kmh_per_s).then(|| {
            json!({"source": "speed", "from_kmh": from, "to_kmh": s.speed_kmh, "over_s": dt, "rate_kmh_per_s": rate})
        })
    }
}
