//! The Teltonika adapter: the wire codec, IO profiles, the TCP session actor and the
//! listeners. It turns frames into entity readings (`adapter.rs`), hands them to the entity
//! the registry grants, and acknowledges once they are stored; Codec 12 is its command
//! transport for the ledger.

mod adapter;
pub mod codec;
pub mod io_profile;
mod listener;
mod session;
mod udp_listener;

pub use listener::{run_tcp_listener, run_tls_listener, ListenerContext};
pub use session::{SessionSettings, TeltonikaSessionActor};
pub use udp_listener::run_udp_listener;
