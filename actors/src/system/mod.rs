//! The edge system's totals (the plan's `SystemMetrics`) and its log: computed from what
//! edge node entities report, stored and pushed every few seconds (`system`), and a log
//! entry for each thing an operator should see (`logs`); detections corroborated by several
//! nodes (`corroborate`).

mod actor;
pub mod corroborate;

pub use actor::{SystemMetrics, SystemSettings, SystemStatsActor, SystemView};
pub use corroborate::{Corroborated, CorroborationSettings};
