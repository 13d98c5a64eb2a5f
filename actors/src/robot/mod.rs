//! Overhead hoist robots: one actor per robot, its state machine, safety conditions and
//! command validation. What a robot reports comes from its adapter (`modbus/`) already in
//! the robot's terms ([`crate::entity::RobotReport`]); nothing here knows the wire.

mod actor;
mod factory;
pub mod logic;

pub use actor::{RobotActor, RobotSettings, RobotTuning};
pub use factory::RobotFactory;
pub use logic::{validate, RobotSnapshot};
