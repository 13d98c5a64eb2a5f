//! Device commands from the API: stored first, sent over the device's session (Codec 12)
//! when it is connected or as soon as it connects, the answer stored and announced.

mod actor;

pub use actor::{CommandDispatcherActor, DeviceConnected, DispatchQueued, SubmitCommand};
