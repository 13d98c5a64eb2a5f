//! Alert rules as data: which entities a rule watches, how urgent its alerts are, and its
//! condition (`conditions/`), parsed once from the stored row or an API request.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use urbanstream_schema::models::AlertRuleRow;
use urbanstream_schema::store::{DbError, Store};
use urbanstream_schema::VehicleId;

use super::messages::ReplaceRules;

pub use super::conditions::Condition;

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
    pub fn covers(&self, vehicle: Option<VehicleId>, group: Option<&str>) -> bool {
        if self.vehicles.is_empty() && self.groups.is_empty() {
            return true;
        }
        vehicle.is_some_and(|v| self.vehicles.contains(&v.0))
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

/// Every stored rule that parses (others are logged and left out) and the vehicles' groups.
pub async fn load(store: &Store) -> Result<ReplaceRules, DbError> {
    let rows = store.alert_rules().await?;
    let mut rules = Vec::with_capacity(rows.len());
    for row in &rows {
        match Rule::from_row(row) {
            Ok(r) => rules.push(r),
            Err(e) => tracing::warn!(rule = row.id, "alert rule left out: {e}"),
        }
    }
    let groups = store.vehicle_groups().await?.into_iter().collect();
    Ok(ReplaceRules { rules, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_with_defaults_and_refuse_bad_params() {
        for kind in Condition::kinds() {
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
        assert!(some.covers(Some(VehicleId(7)), None));
        assert!(some.covers(Some(VehicleId(8)), Some("night")));
        assert!(!some.covers(Some(VehicleId(8)), Some("day")));
        assert!(!some.covers(None, None));
    }
}
