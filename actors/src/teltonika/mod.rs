//! Teltonika trackers: the wire codec, IO profiles, the TCP session actor and the listeners.

pub mod codec;
pub mod io_profile;
mod listener;
mod messages;
mod session;
mod udp_listener;

pub use listener::{run_tcp_listener, ListenerContext};
pub use messages::{
    CloseReason, CloseSession, CommandError, SendCommand, SessionHandle, SessionId,
};
pub use session::{SessionSettings, TeltonikaSessionActor};
pub use udp_listener::run_udp_listener;
