//! NODE_CPU_HIGH and NODE_MEMORY_HIGH: the mean of an edge node's heartbeats over the last
//! `window_s` above `above_pct` (default 90 %); clears when the mean falls to `clear_below_pct`
//! (default `above_pct` − 5).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{positive, secs_to_ms, Check, Cx};
use crate::entity::{EntityKind, Health};
use crate::rules::logic::Sample;
use crate::rules::RuleError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Load {
    pub above_pct: f64,
    pub clear_below_pct: Option<f64>,
    pub window_s: f64,
}

impl Default for Load {
    fn default() -> Self {
        Self {
            above_pct: 90.0,
            clear_below_pct: None,
            window_s: 300.0,
        }
    }
}

impl Load {
    fn validate(&self) -> Result<(), RuleError> {
        positive("above_pct", self.above_pct)?;
        positive("window_s", self.window_s)?;
        if self.above_pct > 100.0
            || self
                .clear_below_pct
                .is_some_and(|c| !(0.0..=self.above_pct).contains(&c))
        {
            return Err(RuleError::Invalid(
                "above_pct must be at most 100 and clear_below_pct between 0 and above_pct".into(),
            ));
        }
        Ok(())
    }

    fn sample(&self, what: &str, value: fn(&Health) -> f64, s: &Sample, cx: &mut Cx<'_>) {
        let Some(h) = &s.health else { return };
        let window = secs_to_ms(self.window_s);
        let m = cx.memory();
        m.samples.push_back((s.at_ms, value(h)));
        while m
            .samples
            .front()
            .is_some_and(|(t, _)| *t < s.at_ms - window)
        {
            m.samples.pop_front();
        }
        let n = m.samples.len() as f64;
        let mean = m.samples.iter().map(|(_, v)| v).sum::<f64>() / n;
        let clear = self.clear_below_pct.unwrap_or(self.above_pct - 5.0);
        if mean > self.above_pct {
            let (above, window_s) = (self.above_pct, self.window_s);
            cx.begin("", s.at_ms, || {
                (
                    format!("{what} {mean:.0} % on average over {window_s:.0} s (over {above:.0} %)"),
                    json!({"mean_pct": mean, "above_pct": above, "window_s": window_s, "samples": n}),
                )
            });
        } else if mean <= clear {
            cx.end("", s.at_ms);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CpuHigh(Load);

impl Check for CpuHigh {
    fn kind(&self) -> EntityKind {
        EntityKind::EdgeNode
    }

    fn validate(&self) -> Result<(), RuleError> {
        self.0.validate()
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        self.0.sample("CPU", |h| h.cpu_usage, s, cx);
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemoryHigh(Load);

impl Check for MemoryHigh {
    fn kind(&self) -> EntityKind {
        EntityKind::EdgeNode
    }

    fn validate(&self) -> Result<(), RuleError> {
        self.0.validate()
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        self.0.sample("Memory", |h| h.memory_usage, s, cx);
    }
}
