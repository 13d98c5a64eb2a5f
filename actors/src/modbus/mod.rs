//! The Modbus adapter: robots on RS485 buses (RTU) or behind TCP gateways. Knows the wire and
//! the register maps; hands the robot entities [`crate::entity::RobotReport`]s and writes
//! their commands and stops.

pub mod bus;
pub mod frame;
pub mod link;
pub mod manager;
pub mod map;

pub use bus::{BusContext, Found, StopAck};
pub use link::{Endpoint, ModbusError};
pub use manager::{
    DiscoverOn, ModbusManagerActor, ModbusSettings, Reload, Retune, StopAllRobots, StopRobot,
};
pub use map::{Identity, RegisterMap};
