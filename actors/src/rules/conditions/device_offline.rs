//! DEVICE_OFFLINE: no data for `after_s` by the server's clock; clears when data comes.

use serde::{Deserialize, Serialize};

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
        cx.begin_if_silent(self.after_s, "", (last_ms, now_ms), |min| {
            format!("No data for {min:.0} min")
        });
    }
}
