//! ENGINE_ERROR: diagnostic trouble codes reported (any, or one of `codes`); clears when
//! the device reports none of them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Check, Cx};
use crate::geo::FenceIndex;
use crate::rules::logic::Sample;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineError {
    /// Only these codes raise it; empty: any code.
    pub codes: Vec<String>,
}

impl EngineError {
    fn watches(&self, code: &String) -> bool {
        self.codes.is_empty() || self.codes.contains(code)
    }
}

impl Check for EngineError {
    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        let Some(codes) = &s.dtc else { return };
        let list: Vec<String> = codes.iter().filter(|c| self.watches(c)).cloned().collect();
        if list.is_empty() {
            cx.end("", s.at_ms);
        } else {
            cx.begin("", s.at_ms, || {
                (
                    format!("Engine trouble codes {}", list.join(", ")),
                    json!({ "codes": list }),
                )
            });
        }
    }

    fn late(&self, s: &Sample, _fences: &FenceIndex) -> Option<Value> {
        s.dtc
            .as_ref()
            .filter(|c| c.iter().any(|c| self.watches(c)))
            .map(|c| json!({"codes": c}))
    }
}
