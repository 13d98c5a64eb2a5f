//! Alert rules as data: what each kind watches and its thresholds, parsed once from the
//! stored row (or an API request) into typed conditions.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use urbanstream_schema::models::AlertRuleRow;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "CRITICAL",
            Self::Warning => "WARNING",
            Self::Info => "INFO",
        }
    }

    pub fn parse(s: &str) -> Result<Self, RuleError> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_unknown| {
            RuleError::Invalid(format!(
                "unknown severity `{s}`; expected CRITICAL, WARNING or INFO"
            ))
        })
    }
}

/// What a rule watches, with its thresholds. Every parameter has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "params", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Condition {
    /// Speed over a limit for at least `min_duration_s`: the rule's own limit, or the lowest
    /// speed limit of the geofences the vehicle is in.
    Overspeed(Overspeed),
    /// Inside one of the fences (every fence when none is named); clears on exit.
    GeofenceEnter(FenceParams),
    /// Left one of the fences; clears on entering it again.
    GeofenceExit(FenceParams),
    /// Ignition on and standing still longer than `max_idle_s`.
    ExcessiveIdle(ExcessiveIdle),
    /// Fuel level under `below_pct`; clears at `clear_above_pct`.
    LowFuel(LowFuel),
    /// Fuel level falling by `min_drop_pct` within `window_s` while parked.
    FuelDrop(FuelDrop),
    /// Diagnostic trouble codes reported; clears when the device reports none.
    EngineError(EngineError),
    /// No data for `after_s`; clears when data comes.
    DeviceOffline(DeviceOffline),
    /// Speed falling faster than `threshold_kmh_per_s`, or the device's own harsh braking
    /// report (green-driving IO).
    HarshBraking(Harsh),
    /// Speed rising faster than `threshold_kmh_per_s`, or the device's own report.
    HarshAcceleration(Harsh),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Overspeed {
    /// The rule's own limit; without one only geofence limits apply.
    pub limit_kmh: Option<f64>,
    pub use_geofence_limits: bool,
    pub min_duration_s: f64,
    /// Clears when the speed is back at or under the limit minus this.
    pub clear_margin_kmh: f64,
}

impl Default for Overspeed {
    fn default() -> Self {
        Self {
            limit_kmh: None,
            use_geofence_limits: true,
            min_duration_s: 10.0,
            clear_margin_kmh: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FenceParams {
    /// The fences watched; empty: every fence.
    pub geofence_ids: Vec<i64>,
}

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

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineError {
    /// Only these codes raise it; empty: any code.
    pub codes: Vec<String>,
}

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Harsh {
    /// Speed change per second (12 km/h/s ≈ 0.34 g).
    pub threshold_kmh_per_s: f64,
    /// Two fixes further apart than this are not compared.
    pub max_gap_s: f64,
    /// Take the device's own green-driving report (IO 253) when it sends one.
    pub use_device_events: bool,
    /// Without another event for this long, the alert clears.
    pub hold_s: f64,
}

impl Default for Harsh {
    fn default() -> Self {
        Self {
            threshold_kmh_per_s: 12.0,
            max_gap_s: 3.0,
            use_device_events: true,
            hold_s: 600.0,
        }
    }
}

impl Condition {
    /// The stored kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Overspeed(_) => "OVERSPEED",
            Self::GeofenceEnter(_) => "GEOFENCE_ENTER",
            Self::GeofenceExit(_) => "GEOFENCE_EXIT",
            Self::ExcessiveIdle(_) => "EXCESSIVE_IDLE",
            Self::LowFuel(_) => "LOW_FUEL",
            Self::FuelDrop(_) => "FUEL_DROP",
            Self::EngineError(_) => "ENGINE_ERROR",
            Self::DeviceOffline(_) => "DEVICE_OFFLINE",
            Self::HarshBraking(_) => "HARSH_BRAKING",
            Self::HarshAcceleration(_) => "HARSH_ACCELERATION",
        }
    }

    /// Every kind, for documentation and errors.
    pub const KINDS: [&'static str; 10] = [
        "OVERSPEED",
        "GEOFENCE_ENTER",
        "GEOFENCE_EXIT",
        "EXCESSIVE_IDLE",
        "LOW_FUEL",
        "FUEL_DROP",
        "ENGINE_ERROR",
        "DEVICE_OFFLINE",
        "HARSH_BRAKING",
        "HARSH_ACCELERATION",
    ];

    /// Parses a kind and its parameters (`null` or `{}`: every default).
    pub fn parse(kind: &str, params: &serde_json::Value) -> Result<Self, RuleError> {
        if !Self::KINDS.contains(&kind) {
            return Err(RuleError::Invalid(format!(
                "unknown rule kind `{kind}`; expected one of {}",
                Self::KINDS.join(", ")
            )));
        }
        let params = if params.is_null() {
            serde_json::json!({})
        } else {
            params.clone()
        };
        let c: Self = serde_json::from_value(serde_json::json!({ "kind": kind, "params": params }))
            .map_err(|e| RuleError::Invalid(format!("params of {kind}: {e}")))?;
        c.validate()?;
        Ok(c)
    }

    /// The parameters with every default filled in.
    pub fn params(&self) -> serde_json::Value {
        serde_json::to_value(self)
            .ok()
            .and_then(|mut v| v.get_mut("params").map(serde_json::Value::take))
            .unwrap_or_default()
    }

    fn validate(&self) -> Result<(), RuleError> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(RuleError::Invalid(format!(
                    "{name} must be a positive number"
                )))
            }
        };
        let non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(RuleError::Invalid(format!("{name} must be zero or more")))
            }
        };
        match self {
            Self::Overspeed(p) => {
                if let Some(l) = p.limit_kmh {
                    positive("limit_kmh", l)?;
                } else if !p.use_geofence_limits {
                    return Err(RuleError::Invalid(
                        "OVERSPEED needs limit_kmh or use_geofence_limits".into(),
                    ));
                }
                non_negative("min_duration_s", p.min_duration_s)?;
                non_negative("clear_margin_kmh", p.clear_margin_kmh)
            }
            Self::GeofenceEnter(_) | Self::GeofenceExit(_) | Self::EngineError(_) => Ok(()),
            Self::ExcessiveIdle(p) => {
                positive("max_idle_s", p.max_idle_s)?;
                positive("moving_kmh", p.moving_kmh)
            }
            Self::LowFuel(p) => {
                positive("below_pct", p.below_pct)?;
                if p.clear_above_pct
                    .is_some_and(|c| !(c >= p.below_pct && c <= 100.0))
                {
                    return Err(RuleError::Invalid(
                        "clear_above_pct must lie between below_pct and 100".into(),
                    ));
                }
                Ok(())
            }
            Self::FuelDrop(p) => {
                positive("min_drop_pct", p.min_drop_pct)?;
                positive("window_s", p.window_s)?;
                positive("moving_kmh", p.moving_kmh)?;
                positive("hold_s", p.hold_s)
            }
            Self::DeviceOffline(p) => positive("after_s", p.after_s),
            Self::HarshBraking(p) | Self::HarshAcceleration(p) => {
                positive("threshold_kmh_per_s", p.threshold_kmh_per_s)?;
                positive("max_gap_s", p.max_gap_s)?;
                positive("hold_s", p.hold_s)
            }
        }
    }

    /// Pulse conditions happen at an instant (a harsh brake); the others hold for a while.
    pub fn hold_ms(&self) -> Option<i64> {
        match self {
            Self::FuelDrop(p) => Some((p.hold_s * 1000.0) as i64),
            Self::HarshBraking(p) | Self::HarshAcceleration(p) => Some((p.hold_s * 1000.0) as i64),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{0}")]
    Invalid(String),
}

/// Which vehicles a rule watches: both lists empty means every vehicle (and devices
/// without one).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Targets {
    pub vehicles: HashSet<i64>,
    pub groups: HashSet<String>,
}

impl Targets {
    pub fn covers(&self, vehicle: Option<i64>, group: Option<&str>) -> bool {
        if self.vehicles.is_empty() && self.groups.is_empty() {
            return true;
        }
        vehicle.is_some_and(|v| self.vehicles.contains(&v))
            || group.is_some_and(|g| self.groups.contains(g))
    }
}

/// One rule, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub condition: Condition,
    pub targets: Targets,
    pub severity: Severity,
    pub cooldown_ms: i64,
    pub channels: Vec<i64>,
    pub enabled: bool,
}

impl Rule {
    pub fn from_row(row: &AlertRuleRow) -> Result<Self, RuleError> {
        let json = |field: &str, text: &str| -> Result<serde_json::Value, RuleError> {
            serde_json::from_str(text)
                .map_err(|e| RuleError::Invalid(format!("stored {field} of rule {}: {e}", row.id)))
        };
        let ids = |field: &str, text: &str| -> Result<Vec<i64>, RuleError> {
            serde_json::from_value(json(field, text)?)
                .map_err(|e| RuleError::Invalid(format!("{field}: {e}")))
        };
        let groups: Vec<String> = serde_json::from_value(json("groups", &row.groups)?)
            .map_err(|e| RuleError::Invalid(format!("groups: {e}")))?;
        Ok(Self {
            id: row.id,
            name: row.name.clone(),
            condition: Condition::parse(&row.kind, &json("params", &row.params)?)?,
            targets: Targets {
                vehicles: ids("vehicle_ids", &row.vehicle_ids)?.into_iter().collect(),
                groups: groups.into_iter().collect(),
            },
            severity: Severity::parse(&row.severity)?,
            cooldown_ms: row.cooldown_s.saturating_mul(1000),
            channels: ids("channel_ids", &row.channel_ids)?,
            enabled: row.enabled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_with_defaults_and_refuse_bad_params() {
        for kind in Condition::KINDS {
            let c = Condition::parse(kind, &serde_json::json!({}));
            if kind == "OVERSPEED" {
                // Defaults to geofence limits only.
                assert!(c.is_ok(), "{kind}: {c:?}");
            }
            let c = c.unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(c.kind(), kind);
            assert!(c.params().is_object(), "{kind}");
        }
        let c = Condition::parse("LOW_FUEL", &serde_json::json!({"below_pct": 20})).unwrap();
        assert_eq!(c.params()["below_pct"], 20.0);
        for (kind, params, why) in [
            ("SPEEDING", serde_json::json!({}), "unknown rule kind"),
            (
                "OVERSPEED",
                serde_json::json!({"limit_kmh": -1}),
                "limit_kmh",
            ),
            (
                "OVERSPEED",
                serde_json::json!({"use_geofence_limits": false}),
                "needs limit_kmh",
            ),
            (
                "OVERSPEED",
                serde_json::json!({"limit": 50}),
                "unknown field",
            ),
            (
                "LOW_FUEL",
                serde_json::json!({"below_pct": 20, "clear_above_pct": 10}),
                "clear_above_pct",
            ),
            (
                "DEVICE_OFFLINE",
                serde_json::json!({"after_s": "ten"}),
                "params of DEVICE_OFFLINE",
            ),
        ] {
            let e = Condition::parse(kind, &params).unwrap_err().to_string();
            assert!(e.contains(why), "{kind} {params}: {e}");
        }
    }

    #[test]
    fn targets_cover_vehicles_and_groups() {
        let all = Targets::default();
        assert!(all.covers(None, None));
        let some = Targets {
            vehicles: [7].into(),
            groups: ["night".to_owned()].into(),
        };
        assert!(some.covers(Some(7), None));
        assert!(some.covers(Some(8), Some("night")));
        assert!(!some.covers(Some(8), Some("day")));
        assert!(!some.covers(None, None));
    }
}
