//! DEVICE_OFFLINE: no data for `after_s` by the server's clock; clears when data comes.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{positive, Check, Cx};
use crate::rules::logic::Sample;
use crate::rules::RuleError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceOffline {
    pub after_s: f64,
}

impl Default for DeviceOffline {
    fn default() -> Self {
        Self { after_s: 600.0 }
    }
}

impl Check for DeviceOffline {
    fn validate(&self) -> Result<(), RuleError> {
        positive("after_s", self.after_s)
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        cx.end("", s.received_ms);
    }

    fn silence(&self, last_ms: i64, now_ms: i64, cx: &mut Cx<'_>) {
        let silent_s = (now_ms - last_ms) as f64 / 1000.0;
        if silent_s <= self.after_s {
            return;
        }
        cx.begin("", now_ms, || {
            (
                format!("No data for {:.0} min", silent_s / 60.0),
                json!({"last_seen_ms": last_ms, "silent_s": silent_s}),
            )
        });
    }
}
