//! Rows of the operations tables: alert rules, alerts, notification channels, dead letters
//! and device commands. JSON-valued columns are text, the same on both backends.

use diesel::prelude::*;
use serde::Serialize;

use crate::schema::{
    alert_rules, alerts, device_commands, notification_channels, notification_dead_letters,
};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = alert_rules)]
pub struct AlertRuleRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub params: String,
    pub vehicle_ids: String,
    pub groups: String,
    pub severity: String,
    pub cooldown_s: i64,
    pub channel_ids: String,
    pub enabled: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset)]
#[diesel(table_name = alert_rules)]
pub struct AlertRuleData {
    pub name: String,
    pub kind: String,
    pub params: String,
    pub vehicle_ids: String,
    pub groups: String,
    pub severity: String,
    pub cooldown_s: i64,
    pub channel_ids: String,
    pub enabled: bool,
    pub updated_ms: i64,
}

/// One alert, as stored; also what is inserted (the rule engine makes the id).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = alerts)]
pub struct AlertRow {
    pub id: String,
    pub rule_id: i64,
    pub kind: String,
    pub severity: String,
    pub status: String,
    pub device_id: i64,
    pub vehicle_id: Option<i64>,
    pub subject: String,
    pub message: String,
    pub details: String,
    pub late: bool,
    pub occurrences: i32,
    pub raised_ms: i64,
    pub last_ms: i64,
    pub acknowledged_ms: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub cleared_ms: Option<i64>,
    pub cleared_by: Option<String>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = notification_channels)]
pub struct ChannelRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub target: String,
    pub secret: Option<String>,
    pub enabled: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset)]
#[diesel(table_name = notification_channels)]
#[diesel(treat_none_as_null = true)]
pub struct ChannelData {
    pub name: String,
    pub kind: String,
    pub target: String,
    pub secret: Option<String>,
    pub enabled: bool,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = notification_dead_letters)]
pub struct DeadLetterRow {
    pub id: i64,
    pub channel_id: i64,
    pub alert_id: String,
    /// The JSON body that could not be delivered.
    pub payload: String,
    pub attempts: i32,
    pub last_error: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = notification_dead_letters)]
pub struct NewDeadLetter {
    pub channel_id: i64,
    pub alert_id: String,
    pub payload: String,
    pub attempts: i32,
    pub last_error: String,
    pub created_ms: i64,
}

/// A command for a device and what became of it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = device_commands)]
pub struct CommandRow {
    pub id: i64,
    pub device_id: i64,
    pub command: String,
    /// QUEUED, SENT, ANSWERED, FAILED or EXPIRED.
    pub status: String,
    pub response: Option<String>,
    pub error: Option<String>,
    pub created_by: String,
    pub created_ms: i64,
    pub sent_ms: Option<i64>,
    pub answered_ms: Option<i64>,
    pub expires_ms: i64,
    /// The client's key (`Idempotency-Key`): creating again with it returns this command.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = device_commands)]
pub struct NewCommand {
    pub device_id: i64,
    pub command: String,
    pub status: String,
    pub created_by: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub idempotency_key: Option<String>,
}

/// An alert as the API and live updates show it: the stored row with its details as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AlertView {
    /// UUID v7.
    pub id: String,
    pub rule_id: i64,
    /// OVERSPEED, GEOFENCE_ENTER, GEOFENCE_EXIT, EXCESSIVE_IDLE, LOW_FUEL, FUEL_DROP,
    /// ENGINE_ERROR, DEVICE_OFFLINE, HARSH_BRAKING or HARSH_ACCELERATION.
    pub kind: String,
    /// CRITICAL, WARNING or INFO.
    pub severity: String,
    /// ACTIVE_UNACK, ACTIVE_ACK or CLEARED.
    pub status: String,
    pub device_id: i64,
    pub vehicle_id: Option<i64>,
    /// What besides the vehicle it is about (a geofence id); empty for none.
    pub subject: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Raised from records older than the vehicle's latest: history, never live.
    pub late: bool,
    pub occurrences: i32,
    /// Device time of the first and the latest occurrence, ms since the epoch.
    pub raised_ms: i64,
    pub last_ms: i64,
    pub acknowledged_ms: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub cleared_ms: Option<i64>,
    /// Who cleared it; absent when its condition ended.
    pub cleared_by: Option<String>,
}

impl From<AlertRow> for AlertView {
    fn from(r: AlertRow) -> Self {
        Self {
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
            id: r.id,
            rule_id: r.rule_id,
            kind: r.kind,
            severity: r.severity,
            status: r.status,
            device_id: r.device_id,
            vehicle_id: r.vehicle_id,
            subject: r.subject,
            message: r.message,
            late: r.late,
            occurrences: r.occurrences,
            raised_ms: r.raised_ms,
            last_ms: r.last_ms,
            acknowledged_ms: r.acknowledged_ms,
            acknowledged_by: r.acknowledged_by,
            cleared_ms: r.cleared_ms,
            cleared_by: r.cleared_by,
        }
    }
}
