//! Redis, when configured: the latest state per device (`SET device:{imei}:latest`, 1 h TTL),
//! whether it is sending (`device:{imei}:status` = `online` | `offline`, and
//! `device:{imei}:last_seen`), a geo index (`GEOADD devices:positions`), and pub/sub between
//! urbanstream nodes (`PUBLISH telemetry:{imei}` and `telemetry:all`; events on
//! `events:all`; alerts on `alerts:all` and `alerts:{imei}`). Each node
//! delivers what other nodes publish to its own subscribers, once; its own updates take the
//! local path. Redis down: the hot path stays local, errors are counted, the bridge
//! reconnects with capped, jittered backoff.

mod actor;
mod messages;

pub use actor::{RedisBridgeActor, RedisSettings};
pub use messages::{PingRedis, Presence, PublishToRedis, RemoteKind, RemoteUpdate};
