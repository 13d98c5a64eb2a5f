//! Edge AI nodes over MQTT: the topics and payloads (`payload`), the way from a message to
//! its commit and acknowledgement (`pipeline`), the client of an external broker (`client`)
//! and the embedded broker (`broker`). Nothing below this module knows MQTT.

pub mod broker;
pub mod client;
pub mod payload;
pub mod pipeline;

pub use client::{ClientSettings, Connected};
pub use payload::Limits;
