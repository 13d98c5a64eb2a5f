//! DETECTION_BURST: more than `max_count` detections of `object_type` (any, when unset) in
//! `zone` (a detection's `location`; any, when unset) by one node within `window_s`. An
//! instant condition: it stays open `hold_s` after the last burst.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{positive, secs_to_ms, Check, Cx};
use crate::entity::EntityKind;
use crate::rules::logic::Sample;
use crate::rules::RuleError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectionBurst {
    pub object_type: Option<String>,
    pub zone: Option<String>,
    pub max_count: u32,
    pub window_s: f64,
    pub hold_s: f64,
}

impl Default for DetectionBurst {
    fn default() -> Self {
        Self {
            object_type: None,
            zone: None,
            max_count: 50,
            window_s: 60.0,
            hold_s: 300.0,
        }
    }
}

impl Check for DetectionBurst {
    fn kind(&self) -> EntityKind {
        EntityKind::EdgeNode
    }

    fn validate(&self) -> Result<(), RuleError> {
        positive("window_s", self.window_s)?;
        positive("hold_s", self.hold_s)?;
        if self.max_count == 0 {
            return Err(RuleError::Invalid("max_count must be at least 1".into()));
        }
        Ok(())
    }

    fn hold_ms(&self) -> Option<i64> {
        Some(secs_to_ms(self.hold_s))
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        let n = s
            .detections
            .iter()
            .filter(|(t, zone)| {
                self.object_type.as_ref().is_none_or(|o| o == t)
                    && self.zone.as_ref().is_none_or(|z| zone.as_ref() == Some(z))
            })
            .count();
        if n == 0 {
            return;
        }
        let window = secs_to_ms(self.window_s);
        let m = cx.memory();
        m.samples.push_back((s.at_ms, n as f64));
        while m
            .samples
            .front()
            .is_some_and(|(t, _)| *t < s.at_ms - window)
        {
            m.samples.pop_front();
        }
        let count = m.samples.iter().map(|(_, v)| v).sum::<f64>() as u64;
        if count <= u64::from(self.max_count) {
            return;
        }
        let what = self.object_type.clone().unwrap_or_else(|| "object".into());
        let zone = self.zone.clone();
        let (max, window_s) = (self.max_count, self.window_s);
        cx.pulse("", s.at_ms, || {
            (
                format!("{count} {what} detections in {window_s:.0} s (more than {max})"),
                json!({"count": count, "object_type": what, "zone": zone, "window_s": window_s, "max_count": max}),
            )
        });
    }
}
