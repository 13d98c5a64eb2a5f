//! Robots' conditions. Safety conditions come as the robot entity's `safety` events (begun,
//! ended): ROBOT_ESTOP (the stop latched, or the hardware button pressed — one alert each),
//! ROBOT_FAULT, ROBOT_SAFETY_FIELD (scanner field violated, or the maintenance door open),
//! ROBOT_OFFLINE (the link does not answer), ROBOT_STALE (the control cycle stopped),
//! ROBOT_OVERLOAD. Measures come as samples: ROBOT_BATTERY_LOW and ROBOT_OVER_TEMP, each
//! with a hysteresis band.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{pct_band, validate_pct_band, Check, Cx};
use crate::entity::{EntityEvent, EntityKind, SafetyKind};
use crate::rules::logic::Sample;
use crate::rules::RuleError;

/// Begins an alert (subject: the condition) when one of `kinds` begins; ends it with it.
fn safety(kinds: &[SafetyKind], e: &EntityEvent, cx: &mut Cx<'_>) {
    let EntityEvent::Safety {
        at,
        condition,
        active,
        detail,
    } = e
    else {
        return;
    };
    if !kinds.contains(condition) {
        return;
    }
    let at_ms = at.timestamp_millis();
    let subject = condition.as_str();
    if *active {
        let detail = detail.clone();
        let condition = *condition;
        cx.begin(subject, at_ms, || {
            let text = if detail.is_empty() {
                format!("Robot safety condition: {}", condition.as_str())
            } else {
                format!("Robot safety condition: {} ({detail})", condition.as_str())
            };
            (text, json!({"condition": condition, "detail": detail}))
        });
    } else {
        cx.end(subject, at_ms);
    }
}

macro_rules! safety_condition {
    ($(#[$doc:meta] $name:ident => [$($kind:ident),+];)+) => {$(
        #[$doc]
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {}

        impl Check for $name {
            fn kind(&self) -> EntityKind {
                EntityKind::Robot
            }

            fn event(&self, e: &EntityEvent, cx: &mut Cx<'_>) {
                safety(&[$(SafetyKind::$kind),+], e, cx);
            }
        }
    )+};
}

safety_condition! {
    /// ROBOT_ESTOP.
    Estop => [EstopActive, EstopPressed];
    /// ROBOT_FAULT.
    Fault => [Fault];
    /// ROBOT_SAFETY_FIELD.
    SafetyField => [ScannerField, DoorOpen];
    /// ROBOT_STALE.
    Stale => [Stale];
    /// ROBOT_OVERLOAD.
    Overload => [Overload];
}

/// ROBOT_OFFLINE: the link does not answer (the robot entity's `link_lost`). `after_s`: how
/// long a robot known from before a restart may stay unheard before it is called offline on
/// the server's clock (a polled robot's actor decides that itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Offline {
    pub after_s: f64,
}

impl Default for Offline {
    fn default() -> Self {
        Self { after_s: 60.0 }
    }
}

impl Check for Offline {
    fn kind(&self) -> EntityKind {
        EntityKind::Robot
    }

    fn validate(&self) -> Result<(), RuleError> {
        super::positive("after_s", self.after_s)
    }

    fn event(&self, e: &EntityEvent, cx: &mut Cx<'_>) {
        safety(&[SafetyKind::LinkLost], e, cx);
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        // A report came: the link answers.
        cx.end(SafetyKind::LinkLost.as_str(), s.received_ms);
    }

    fn unheard(&self, last_ms: i64, now_ms: i64, cx: &mut Cx<'_>) {
        cx.begin_if_silent(
            self.after_s,
            SafetyKind::LinkLost.as_str(),
            (last_ms, now_ms),
            |min| format!("Robot offline: not heard from for {min:.0} min"),
        );
    }
}

/// ROBOT_BATTERY_LOW: battery under `below_pct`; clears at `clear_above_pct` (default
/// `below_pct` + 5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatteryLow {
    pub below_pct: f64,
    pub clear_above_pct: Option<f64>,
}

impl Default for BatteryLow {
    fn default() -> Self {
        Self {
            below_pct: 20.0,
            clear_above_pct: None,
        }
    }
}

impl Check for BatteryLow {
    fn kind(&self) -> EntityKind {
        EntityKind::Robot
    }

    fn validate(&self) -> Result<(), RuleError> {
        validate_pct_band(self.below_pct, self.clear_above_pct)
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        let Some(pct) = s.battery_pct else { return };
        let below = self.below_pct;
        pct_band(below, self.clear_above_pct, pct, s.at_ms, cx, || {
            (
                format!("Robot battery {pct:.0} % (under {below:.0} %)"),
                json!({"battery_pct": pct, "below_pct": below}),
            )
        });
    }
}

/// ROBOT_OVER_TEMP: temperature over `above_c`; clears at `clear_below_c` (default
/// `above_c` − 5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverTemp {
    pub above_c: f64,
    pub clear_below_c: Option<f64>,
}

impl Default for OverTemp {
    fn default() -> Self {
        Self {
            above_c: 60.0,
            clear_below_c: None,
        }
    }
}

impl Check for OverTemp {
    fn kind(&self) -> EntityKind {
        EntityKind::Robot
    }

    fn validate(&self) -> Result<(), RuleError> {
        if !self.above_c.is_finite()
            || self
                .clear_below_c
                .is_some_and(|c| !c.is_finite() || c > self.above_c)
        {
            return Err(RuleError::Invalid(
                "above_c must be a number and clear_below_c at most above_c".into(),
            ));
        }
        Ok(())
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        let Some(c) = s.temperature_c else { return };
        let clear_at = self.clear_below_c.unwrap_or(self.above_c - 5.0);
        if c > self.above_c {
            let above = self.above_c;
            cx.begin("", s.at_ms, || {
                (
                    format!("Robot temperature {c:.1} °C (over {above:.0} °C)"),
                    json!({"temperature_c": c, "above_c": above}),
                )
            });
        } else if c <= clear_at {
            cx.end("", s.at_ms);
        }
    }
}
