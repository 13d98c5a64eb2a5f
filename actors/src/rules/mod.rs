//! Rules over live telemetry: geofences, alert rules and the `RuleEngineActor` that
//! evaluates them and drives each alert's lifecycle.

mod actor;
pub mod alert_rule;
pub mod geofence;
pub mod geojson;
pub mod logic;
mod messages;

pub use actor::{AlertSinks, RuleEngineActor, RuleEngineSettings};
pub use alert_rule::{Condition, Rule, RuleError, Severity, Targets};
pub use geofence::{FenceDef, FenceEvent, FenceIndex, FenceTracker, Shape, SharedFences};
pub use messages::{AlertAction, AlertChanged, AlertForgotten, ReplaceRules};
