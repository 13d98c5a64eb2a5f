//! EXCESSIVE_IDLE: ignition on and standing still longer than `max_idle_s`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{positive, Check, Cx};
use crate::rules::logic::Sample;
use crate::rules::RuleError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExcessiveIdle {
    pub max_idle_s: f64,
    /// Under this speed a vehicle stands still.
    pub moving_kmh: f64,
}

impl Default for ExcessiveIdle {
    fn default() -> Self {
        Self {
            max_idle_s: 900.0,
            moving_kmh: 5.0,
        }
    }
}

impl Check for ExcessiveIdle {
    fn validate(&self) -> Result<(), RuleError> {
        positive("max_idle_s", self.max_idle_s)?;
        positive("moving_kmh", self.moving_kmh)
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        let idle = s.ignition == Some(true) && s.speed_kmh < self.moving_kmh;
        if !idle {
            cx.memory().since_ms = None;
            cx.end("", s.at_ms);
            return;
        }
        let since = *cx.memory().since_ms.get_or_insert(s.at_ms);
        let idle_s = (s.at_ms - since) as f64 / 1000.0;
        if idle_s > self.max_idle_s {
            cx.begin("", s.at_ms, || {
                (
                    format!("Idling for {:.0} min with the engine on", idle_s / 60.0),
                    json!({"idle_since_ms": since, "idle_s": idle_s}),
                )
            });
        }
    }
}
