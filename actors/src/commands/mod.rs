//! The command ledger, for every kind of device: a command is stored first (QUEUED, with
//! an optional idempotency key), queued per device with one in flight, sent over the
//! device's connection when it has one (`Deliver`: Codec 12 for a Teltonika session; Modbus
//! writes and MQTT commands plug in the same way), and ends ANSWERED, FAILED or EXPIRED.
//! Every change is pushed as a `command_updated` event.

mod actor;
mod messages;

pub use actor::CommandDispatcherActor;
pub use messages::{
    CommandError, CommandTarget, Deliver, DeviceConnected, DeviceDisconnected, SubmitCommand,
    Submitted,
};
