use std::sync::Arc;

use actix::Message;
use serde::Serialize;
use urbanstream_schema::models::AlertView;
use urbanstream_schema::Imei;

use super::alert_rule::Rule;

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    pub imei: Imei,
    pub alert: Arc<AlertView>,
}

impl AlertChanged {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "action": self.action,
            "imei": self.imei.to_string(),
            "alert": &*self.alert,
        })
    }
}

/// The rules changed (or vehicles' groups): evaluate with these from now on.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ReplaceRules {
    pub rules: Vec<Rule>,
    /// Vehicle id → group.
    pub groups: std::collections::HashMap<i64, String>,
}

/// A user cleared an alert: the engine lets go of it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AlertForgotten {
    pub id: String,
    pub at_ms: i64,
}
