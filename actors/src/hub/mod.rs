//! The hub: topic pub/sub between entity actors and live subscribers (WebSocket sessions).
//! Each subscriber has a bounded mailbox; when it is full, updates are coalesced to the
//! latest per entity and topic, so a slow client costs bounded memory and stalls nobody.

mod actor;
mod client_message;
mod messages;
mod topic;

pub use actor::{HubActor, HubSettings};
pub use client_message::ClientMessage;
pub use messages::{
    AttachEngine, AttachRedis, BBox, Broadcast, Leave, Push, PushKind, SetViewport, Subscribe,
    SubscriberId, Unsubscribe,
};
pub use topic::{Topic, TopicError};
