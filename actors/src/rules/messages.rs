use std::sync::Arc;

use actix::Message;
use serde::{Deserialize, Serialize};
use urbanstream_schema::models::AlertView;
use urbanstream_schema::AlertId;

use super::alert_rule::Rule;
use crate::entity::EntityKey;

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertAction {
    Raised,
    Updated,
    Acknowledged,
    Cleared,
}

/// An alert as it now stands, after `action`: for subscribers and notification channels.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct AlertChanged {
    pub action: AlertAction,
    /// The entity the alert is about.
    pub key: EntityKey,
    pub alert: Arc<AlertView>,
}

impl AlertChanged {
    /// `{"action", "imei", "alert"}` (the key's own field names the entity).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "action": self.action,
            self.key.field(): self.key.to_string(),
            "alert": &*self.alert,
        })
    }
}

/// The rules changed (or vehicles' groups): evaluate with these from now on.
#[derive(Debug, Clone, PartialEq, Message)]
#[rtype(result = "()")]
pub struct ReplaceRules {
    pub rules: Vec<Rule>,
    /// Vehicle id → group.
    pub groups: std::collections::HashMap<i64, String>,
}

/// A user cleared an alert: the engine lets go of it.
#[derive(Debug, Clone, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub struct AlertForgotten {
    pub id: AlertId,
    pub at_ms: i64,
}
