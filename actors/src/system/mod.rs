//! The edge system's totals (the plan's `SystemMetrics`) and its log: computed from what
//! edge node entities report, stored and pushed every few seconds (`system`), and a log
//! entry for each thing an operator should see (`logs`).

mod actor;

pub use actor::{SystemMetrics, SystemSettings, SystemStatsActor, SystemView};
