//! `/api/v1/alerts/rules`: alert rules as data. A change applies on this node before the
//! response, and on the others at their next reload (`rules.reload_every`).

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod replace;

use serde::{Deserialize, Serialize};
use urbanstream_actors::rules::{Condition, Severity};
use urbanstream_schema::models::{AlertRuleData, AlertRuleRow};

use super::{ApiError, HttpState};

/// A rule as written: its kind, the kind's parameters, whom it watches and where its
/// alerts go.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    name: String,
    /// OVERSPEED, GEOFENCE_ENTER, GEOFENCE_EXIT, EXCESSIVE_IDLE, LOW_FUEL, FUEL_DROP,
    /// ENGINE_ERROR, DEVICE_OFFLINE, HARSH_BRAKING or HARSH_ACCELERATION.
    kind: String,
    /// The kind's thresholds; absent ones take their defaults. OVERSPEED: limit_kmh,
    /// use_geofence_limits, min_duration_s, clear_margin_kmh. GEOFENCE_ENTER / _EXIT:
    /// geofence_ids. EXCESSIVE_IDLE: max_idle_s, moving_kmh. LOW_FUEL: below_pct,
    /// clear_above_pct. FUEL_DROP: min_drop_pct, window_s, moving_kmh, hold_s.
    /// ENGINE_ERROR: codes. DEVICE_OFFLINE: after_s. HARSH_BRAKING / _ACCELERATION:
    /// threshold_kmh_per_s, max_gap_s, use_device_events, hold_s.
    #[serde(default)]
    #[schema(value_type = Object)]
    params: serde_json::Value,
    /// Vehicles watched; with `groups` both empty, every vehicle.
    #[serde(default)]
    vehicle_ids: Vec<i64>,
    /// Vehicle groups watched.
    #[serde(default)]
    groups: Vec<String>,
    /// CRITICAL, WARNING (default) or INFO.
    #[serde(default = "default_severity")]
    severity: String,
    /// After an alert clears, no new one for the same vehicle and subject for this long.
    #[serde(default = "default_cooldown")]
    cooldown_s: i64,
    /// Notification channels its alerts go to.
    #[serde(default)]
    channel_ids: Vec<i64>,
    #[serde(default = "enabled")]
    enabled: bool,
}

fn default_severity() -> String {
    "WARNING".into()
}

fn default_cooldown() -> i64 {
    300
}

fn enabled() -> bool {
    true
}

/// A rule as stored, its parameters with every default filled in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleView {
    id: i64,
    name: String,
    kind: String,
    #[schema(value_type = Object)]
    params: serde_json::Value,
    vehicle_ids: Vec<i64>,
    groups: Vec<String>,
    severity: String,
    cooldown_s: i64,
    channel_ids: Vec<i64>,
    enabled: bool,
    created_ms: i64,
    updated_ms: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleList {
    items: Vec<RuleView>,
}

pub(crate) fn view(row: &AlertRuleRow) -> RuleView {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap_or_default();
    let params = Condition::parse(&row.kind, &parse(&row.params))
        .map(|c| c.params())
        .unwrap_or_else(|_| parse(&row.params));
    RuleView {
        id: row.id,
        name: row.name.clone(),
        kind: row.kind.clone(),
        params,
        vehicle_ids: serde_json::from_str(&row.vehicle_ids).unwrap_or_default(),
        groups: serde_json::from_str(&row.groups).unwrap_or_default(),
        severity: row.severity.clone(),
        cooldown_s: row.cooldown_s,
        channel_ids: serde_json::from_str(&row.channel_ids).unwrap_or_default(),
        enabled: row.enabled,
        created_ms: row.created_ms,
        updated_ms: row.updated_ms,
    }
}

/// Validates a rule into the row to store.
pub(crate) async fn to_data(state: &HttpState, r: RuleInput) -> Result<AlertRuleData, ApiError> {
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "name must be 1 to 200 characters".into(),
        ));
    }
    let condition =
        Condition::parse(&r.kind, &r.params).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let severity = Severity::parse(&r.severity).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !(0..=30 * 86_400).contains(&r.cooldown_s) {
        return Err(ApiError::BadRequest(
            "cooldown_s must be 0 to 2592000 (30 days)".into(),
        ));
    }
    if r.vehicle_ids.len() > 10_000 || r.groups.len() > 1_000 || r.channel_ids.len() > 100 {
        return Err(ApiError::BadRequest(
            "too many vehicle_ids, groups or channel_ids".into(),
        ));
    }
    for id in &r.channel_ids {
        if state.store.channel(*id).await?.is_none() {
            return Err(ApiError::BadRequest(format!(
                "no notification channel {id}"
            )));
        }
    }
    let json = |v: serde_json::Value| v.to_string();
    Ok(AlertRuleData {
        name: name.to_owned(),
        kind: condition.kind().to_owned(),
        params: json(condition.params()),
        vehicle_ids: json(serde_json::json!(r.vehicle_ids)),
        groups: json(serde_json::json!(r.groups)),
        severity: severity.as_str().to_owned(),
        cooldown_s: r.cooldown_s,
        channel_ids: json(serde_json::json!(r.channel_ids)),
        enabled: r.enabled,
        updated_ms: crate::auth::now_ms(),
    })
}

/// Hands this node's rule engine the current rules; they apply before this returns.
pub(crate) async fn apply(state: &HttpState) -> Result<(), ApiError> {
    let replace = urbanstream_actors::rules::load(&state.store).await?;
    state
        .engine
        .send(replace)
        .await
        .map_err(|e| ApiError::Unavailable(format!("rule engine: {e}")))
}
