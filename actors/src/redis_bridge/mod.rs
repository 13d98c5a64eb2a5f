//! Redis, when configured: the latest state per device (`SET device:{imei}:latest`, 1 h TTL),
//! a geo index (`GEOADD devices:positions`), and pub/sub between urbanstream nodes
//! (`PUBLISH telemetry:{imei}` and `telemetry:all`; events on `events:all`). Each node
//! delivers what other nodes publish to its own subscribers, once; its own updates take the
//! local path. Redis down: the hot path stays local, errors are counted, the bridge
//! reconnects with capped, jittered backoff.

mod actor;

pub use actor::{
    PingRedis, PublishToRedis, RedisBridgeActor, RedisSettings, RemoteKind, RemoteUpdate,
};
