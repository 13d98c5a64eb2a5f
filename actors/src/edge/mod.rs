//! The entity of one edge AI node: its status (registered → active / idle / fault →
//! offline → back), health, stream position (boot and sequence: gaps, redeliveries), and
//! the rows of what it reports (detections, heartbeats and metrics, consensus rounds).

mod actor;
mod factory;
pub mod logic;
mod rows;

pub use actor::{EdgeNodeActor, EdgeSettings};
pub use factory::EdgeNodeFactory;
pub use logic::{consensus_outcome, EdgeNodeSnapshot, NodeState};
pub use rows::PersonData;
