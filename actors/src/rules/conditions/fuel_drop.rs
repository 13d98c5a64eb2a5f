//! FUEL_DROP: the fuel level falling by `min_drop_pct` within `window_s` while parked
//! (ignition off, standing). An occurrence of an instant: repeats count on the open alert,
//! which clears after `hold_s` without another.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{positive, secs_to_ms, Check, Cx};
use crate::rules::logic::Sample;
use crate::rules::RuleError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FuelDrop {
    pub min_drop_pct: f64,
    pub window_s: f64,
    /// Under this speed the vehicle counts as parked.
    pub moving_kmh: f64,
    /// Without another drop for this long, the alert clears.
    pub hold_s: f64,
}

impl Default for FuelDrop {
    fn default() -> Self {
        Self {
            min_drop_pct: 10.0,
            window_s: 600.0,
            moving_kmh: 5.0,
            hold_s: 3600.0,
        }
    }
}

impl Check for FuelDrop {
    fn validate(&self) -> Result<(), RuleError> {
        positive("min_drop_pct", self.min_drop_pct)?;
        positive("window_s", self.window_s)?;
        positive("moving_kmh", self.moving_kmh)?;
        positive("hold_s", self.hold_s)
    }

    fn hold_ms(&self) -> Option<i64> {
        Some(secs_to_ms(self.hold_s))
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        let parked = s.speed_kmh < self.moving_kmh && s.ignition != Some(true);
        let Some(pct) = s.fuel_pct else { return };
        let samples = &mut cx.memory().samples;
        if !parked {
            samples.clear();
            return;
        }
        let window = secs_to_ms(self.window_s);
        while samples.front().is_some_and(|(t, _)| s.at_ms - t > window) {
            samples.pop_front();
        }
        samples.push_back((s.at_ms, pct));
        let top = samples.iter().map(|x| x.1).fold(f64::MIN, f64::max);
        if top - pct >= self.min_drop_pct {
            samples.clear();
            samples.push_back((s.at_ms, pct));
            cx.pulse("", s.at_ms, || {
                (
                    format!(
                        "Fuel fell {:.0} % while parked ({top:.0} → {pct:.0} %)",
                        top - pct
                    ),
                    json!({"from_pct": top, "to_pct": pct, "drop_pct": top - pct}),
                )
            });
        }
    }
}
