//! WebSocket: one thin actor per connection, holding its subscriptions.

mod session;

pub use session::WsSessionActor;
