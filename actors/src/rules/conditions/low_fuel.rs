//! LOW_FUEL: fuel level under `below_pct`; clears at `clear_above_pct` (default
//! `below_pct` + 5), so a level hovering at the threshold does not flap.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{positive, Check, Cx};
use crate::geo::FenceIndex;
use crate::rules::logic::Sample;
use crate::rules::RuleError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LowFuel {
    pub below_pct: f64,
    /// Hysteresis: the alert clears at or above this (default: `below_pct` + 5).
    pub clear_above_pct: Option<f64>,
}

impl Default for LowFuel {
    fn default() -> Self {
        Self {
            below_pct: 15.0,
            clear_above_pct: None,
        }
    }
}

impl Check for LowFuel {
    fn validate(&self) -> Result<(), RuleError> {
        positive("below_pct", self.below_pct)?;
        if self
            .clear_above_pct
            .is_some_and(|c| !(c >= self.below_pct && c <= 100.0))
        {
            return Err(RuleError::Invalid(
                "clear_above_pct must lie between below_pct and 100".into(),
            ));
        }
        Ok(())
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        let Some(pct) = s.fuel_pct else { return };
        let clear_at = self
            .clear_above_pct
            .unwrap_or((self.below_pct + 5.0).min(100.0));
        if pct < self.below_pct {
            let below = self.below_pct;
            cx.begin("", s.at_ms, || {
                (
                    format!("Fuel level {pct:.0} % (under {below:.0} %)"),
                    json!({"fuel_pct": pct, "below_pct": below}),
                )
            });
        } else if pct >= clear_at {
            cx.end("", s.at_ms);
        }
    }

    fn late(&self, s: &Sample, _fences: &FenceIndex) -> Option<Value> {
        s.fuel_pct
            .filter(|f| *f < self.below_pct)
            .map(|f| json!({"fuel_pct": f}))
    }
}
