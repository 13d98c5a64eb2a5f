//! Roles and the principal a request acts as.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use urbanstream_actors::hub::Topic;

/// What a user or API key may do; the route table (`http::access`) says which roles each
/// route and WebSocket topic admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    /// Manages users, API keys, devices, vehicles, rules and configuration.
    Admin,
    /// Watches the fleet, reads history, acknowledges alerts, sends device commands.
    Dispatcher,
    /// Controls robots and cameras.
    Operator,
    /// Reads history, exports and analytics.
    Analyst,
    /// Reads live positions.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Dispatcher,
        Role::Operator,
        Role::Analyst,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "ADMIN",
            Self::Dispatcher => "DISPATCHER",
            Self::Operator => "OPERATOR",
            Self::Analyst => "ANALYST",
            Self::Viewer => "VIEWER",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: one of ADMIN, DISPATCHER, OPERATOR, ANALYST, VIEWER")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Username, or the API key's name.
    pub name: String,
    pub kind: PrincipalKind,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// Signed in with a password; `session` is the refresh-token family, `expires_ms` when
    /// the access token runs out.
    User {
        id: i64,
        session: String,
        expires_ms: i64,
    },
    ApiKey {
        id: i64,
    },
}

impl Principal {
    /// The audit log's `actor_kind`.
    pub fn kind_label(&self) -> &'static str {
        match self.kind {
            PrincipalKind::User { .. } => "user",
            PrincipalKind::ApiKey { .. } => "api_key",
        }
    }

    /// The rate limiter's key: one bucket per user or key.
    pub fn limit_key(&self) -> String {
        match &self.kind {
            PrincipalKind::User { id, .. } => format!("u{id}"),
            PrincipalKind::ApiKey { id } => format!("k{id}"),
        }
    }
}

/// Who may do what, as the route table and the WebSocket topics name it.
/// Every role.
pub const EVERYONE: &[Role] = &Role::ALL;
/// History, exports and analytics.
pub const HISTORY: &[Role] = &[Role::Admin, Role::Dispatcher, Role::Analyst];
/// Acting on vehicles and alerts: device commands, acknowledgements.
pub const DISPATCH: &[Role] = &[Role::Admin, Role::Dispatcher];
/// Robots and cameras.
pub const OPERATE: &[Role] = &[Role::Admin, Role::Operator];
/// Recorded people, tracking sessions, people analytics and exports (viewers see live
/// tracking only).
pub const PEOPLE: &[Role] = &[Role::Admin, Role::Operator, Role::Analyst];
/// Users, keys, devices, vehicles, rules, configuration, the audit log.
pub const ADMIN: &[Role] = &[Role::Admin];
/// Who may press a robot's emergency stop: anyone signed in but viewers.
pub const STOP: &[Role] = &[Role::Admin, Role::Dispatcher, Role::Operator, Role::Analyst];
/// Who sees alerts and events: everyone but viewers.
pub const WATCH: &[Role] = &[Role::Admin, Role::Dispatcher, Role::Operator, Role::Analyst];

/// Which roles may subscribe to a WebSocket topic.
pub fn topic_roles(topic: &Topic) -> &'static [Role] {
    match topic {
        Topic::Fleet | Topic::Device(_) | Topic::Vehicle(_) => EVERYONE,
        Topic::Events | Topic::Alerts => WATCH,
        Topic::Nodes | Topic::Node(_) | Topic::System => EVERYONE,
        Topic::Detections | Topic::NodeDetections(_) | Topic::Logs => WATCH,
        Topic::Robots | Topic::Robot(_) => EVERYONE,
        Topic::Safety => WATCH,
        Topic::Tracking => EVERYONE,
        // Pictures of people: not for viewers, who see positions only.
        Topic::Camera(_) => WATCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_any_case_and_print_upper() {
        for r in Role::ALL {
            assert_eq!(r.as_str().to_lowercase().parse::<Role>(), Ok(r));
            assert_eq!(r.to_string(), r.as_str());
        }
        assert!("root".parse::<Role>().is_err());
    }
}
