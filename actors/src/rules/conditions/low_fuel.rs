//! LOW_FUEL: fuel level under `below_pct`; clears at `clear_above_pct` (default
//! `below_pct` + 5), so a level hovering at the threshold does not flap.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{pct_band, validate_pct_band, Check, Cx};
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
        validate_pct_band(self.below_pct, self.clear_above_pct)
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        let Some(pct) = s.fuel_pct else { return };
        let below = self.below_pct;
        pct_band(below, self.clear_above_pct, pct, s.at_ms, cx, || {
            (
                format!("Fuel level {pct:.0} % (under {below:.0} %)"),
                json!({"fuel_pct": pct, "below_pct": below}),
            )
        });
    }

    fn late(&self, s: &Sample, _fences: &FenceIndex) -> Option<Value> {
        s.fuel_pct
            .filter(|f| *f < self.below_pct)
            .map(|f| json!({"fuel_pct": f}))
    }
}
