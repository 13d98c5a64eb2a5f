//! Alert rules over every entity's updates, and the `RuleEngineActor` that evaluates them
//! and drives each alert's lifecycle. What raises an alert is a condition module
//! (`conditions/`); the lifecycle is `logic.rs`.

mod actor;
pub mod alert_rule;
mod conditions;
pub mod logic;
mod messages;

pub use actor::{AlertSinks, RuleEngineActor, RuleEngineSettings};
pub use alert_rule::{load, Condition, Rule, RuleError, Severity, Targets};
pub use conditions::{Check, Cx};
pub use messages::{AlertAction, AlertChanged, AlertForgotten, ReplaceRules};
