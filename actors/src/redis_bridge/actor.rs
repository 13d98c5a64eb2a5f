use std::time::Duration;

use actix::prelude::*;
use bb8_redis::RedisConnectionManager;
use futures_util::StreamExt;
use rand::Rng;
use serde::Deserialize;
use serde_json::Value;
use urbanstream_schema::{AlertId, VehicleId};

use super::messages::{PingRedis, PublishToRedis, RemoteKind, RemoteUpdate};
use crate::entity::EntityKey;
use crate::metrics::{REDIS_DROPPED_TOTAL, REDIS_ERRORS_TOTAL, REDIS_RECEIVED_TOTAL, REDIS_UP};
use crate::rules::AlertForgotten;

#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: String,
    /// Prefix of every key and channel (several deployments, or tests, on one Redis).
    pub prefix: String,
    pub latest_ttl: Duration,
    /// Identifies this node in what it publishes, so that it skips its own messages.
    pub node_id: String,
    /// Publications in flight at most; beyond, updates are dropped and counted.
    pub max_in_flight: usize,
    /// `rediss://`: the CA certificates (PEM) the server's certificate must chain to;
    /// without it, the system's trusted roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// `rediss://` to a server that asks for a client certificate: ours (PEM files).
    pub client_tls: Option<crate::tls::TlsFiles>,
}

impl RedisSettings {
    /// A client for `url`, with the CA and client certificate of `rediss://` when given.
    pub fn client(&self) -> redis::RedisResult<redis::Client> {
        if self.ca_file.is_none() && self.client_tls.is_none() {
            return redis::Client::open(self.url.as_str());
        }
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|e| {
                redis::RedisError::from((
                    redis::ErrorKind::Io,
                    "reading a TLS file",
                    format!("{}: {e}", path.display()),
                ))
            })
        };
        let root_cert = self.ca_file.as_deref().map(read).transpose()?;
        let client_tls = match &self.client_tls {
            Some(files) => Some(redis::ClientTlsConfig {
                client_cert: read(&files.cert_file)?,
                client_key: read(&files.key_file)?,
            }),
            None => None,
        };
        redis::Client::build_with_tls(
            self.url.as_str(),
            redis::TlsCertificates {
                client_tls,
                root_cert,
            },
        )
    }
}

/// The fields of a published update that routing needs.
#[derive(Deserialize)]
struct Routing {
    #[serde(default)]
    vehicle_id: Option<VehicleId>,
}

/// The fields of a published alert change that the engine needs.
#[derive(Deserialize)]
struct AlertNotice {
    action: crate::rules::AlertAction,
    alert: AlertFields,
}

#[derive(Deserialize)]
struct AlertFields {
    id: AlertId,
    last_ms: i64,
    #[serde(default)]
    cleared_by: Option<String>,
}

/// Decodes what another node published on `kind`'s channel; `None` when it is not ours to
/// read (counted by the caller).
fn decode(kind: RemoteKind, payload: &Value) -> Option<RemoteUpdate> {
    let key = EntityKey::from_published(payload)?;
    let data = payload.get("data")?;
    let vehicle_id = Routing::deserialize(data).ok()?.vehicle_id;
    let cleared_by_user = match kind {
        RemoteKind::Alert => {
            let notice = AlertNotice::deserialize(data).ok()?;
            (notice.action == crate::rules::AlertAction::Cleared
                && notice.alert.cleared_by.is_some())
            .then_some(AlertForgotten {
                id: notice.alert.id,
                at_ms: notice.alert.last_ms,
            })
        }
        _ => None,
    };
    Some(RemoteUpdate {
        key,
        kind,
        vehicle_id,
        cleared_by_user,
        data: data.clone(),
    })
}

type Pool = bb8::Pool<RedisConnectionManager>;

pub struct RedisBridgeActor {
    settings: RedisSettings,
    hub: Recipient<RemoteUpdate>,
    pool: Option<Pool>,
    in_flight: usize,
}

impl RedisBridgeActor {
    pub fn new(settings: RedisSettings, hub: Recipient<RemoteUpdate>) -> Self {
        Self {
            settings,
            hub,
            pool: None,
            in_flight: 0,
        }
    }

    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.settings.prefix)
    }

    fn connect(&mut self, ctx: &mut Context<Self>, delay: Duration) {
        let settings = self.settings.clone();
        ctx.run_later(delay, move |act, ctx| {
            let fut = async move {
                let client = settings.client()?;
                let manager = RedisConnectionManager::new(client.get_connection_info().clone())?;
                let pool = bb8::Pool::builder()
                    .max_size(4)
                    .connection_timeout(Duration::from_secs(2))
                    .build(manager)
                    .await?;
                // Prove it answers before using it.
                let mut conn = pool.get().await.map_err(|e| {
                    redis::RedisError::from((redis::ErrorKind::Io, "pool", e.to_string()))
                })?;
                redis::cmd("PING").query_async::<()>(&mut *conn).await?;
                drop(conn);
                Ok::<Pool, redis::RedisError>(pool)
            };
            ctx.spawn(fut.into_actor(act).map(move |res, act, ctx| match res {
                Ok(pool) => {
                    tracing::info!("Redis connected");
                    metrics::gauge!(REDIS_UP).set(1.0);
                    act.pool = Some(pool);
                }
                Err(e) => {
                    metrics::counter!(REDIS_ERRORS_TOTAL, "op" => "connect").increment(1);
                    let next = backoff(delay);
                    let e = urbanstream_schema::redact::redact(&e.to_string());
                    tracing::warn!(
                        "Redis unavailable ({e}); live updates stay local; retrying in {next:?}"
                    );
                    act.connect(ctx, next);
                }
            }));
        });
    }
}

/// Doubles up to 30 s, with ±20 % jitter.
fn backoff(prev: Duration) -> Duration {
    let base = (prev * 2).clamp(Duration::from_millis(200), Duration::from_secs(30));
    base.mul_f64(rand::rng().random_range(0.8..1.2))
}

/// Subscribes to the shared channels and hands other nodes' updates to the hub, for ever,
/// reconnecting with backoff.
async fn subscribe_loop(settings: RedisSettings, hub: Recipient<RemoteUpdate>) {
    let mut delay = Duration::from_millis(200);
    let telemetry = format!("{}telemetry:all", settings.prefix);
    let events = format!("{}events:all", settings.prefix);
    let alerts = format!("{}alerts:all", settings.prefix);
    loop {
        let attempt = async {
            let client = settings.client()?;
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&telemetry).await?;
            pubsub.subscribe(&events).await?;
            pubsub.subscribe(&alerts).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match attempt.await {
            Ok(mut pubsub) => {
                delay = Duration::from_millis(200);
                let mut stream = pubsub.on_message();
                while let Some(msg) = stream.next().await {
                    let channel = msg.get_channel_name();
                    let kind = if channel == events {
                        RemoteKind::Event
                    } else if channel == alerts {
                        RemoteKind::Alert
                    } else {
                        RemoteKind::Telemetry
                    };
                    let Ok(v) = serde_json::from_slice::<Value>(msg.get_payload_bytes()) else {
                        metrics::counter!(REDIS_ERRORS_TOTAL, "op" => "decode").increment(1);
                        continue;
                    };
                    if v["node"].as_str() == Some(settings.node_id.as_str()) {
                        continue;
                    }
                    let Some(update) = decode(kind, &v) else {
                        metrics::counter!(REDIS_ERRORS_TOTAL, "op" => "decode").increment(1);
                        continue;
                    };
                    metrics::counter!(REDIS_RECEIVED_TOTAL).increment(1);
                    if hub.try_send(update).is_err() {
                        metrics::counter!(REDIS_DROPPED_TOTAL, "stage" => "to_hub").increment(1);
                    }
                }
                metrics::counter!(REDIS_ERRORS_TOTAL, "op" => "subscribe").increment(1);
                tracing::warn!("Redis subscription ended; resubscribing");
            }
            Err(e) => {
                metrics::counter!(REDIS_ERRORS_TOTAL, "op" => "subscribe").increment(1);
                tracing::debug!("Redis subscribe failed: {e}");
            }
        }
        delay = backoff(delay);
        tokio::time::sleep(delay).await;
    }
}

impl Actor for RedisBridgeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(16_384);
        metrics::gauge!(REDIS_UP).set(0.0);
        self.connect(ctx, Duration::ZERO);
        ctx.spawn(actix::fut::wrap_future(subscribe_loop(
            self.settings.clone(),
            self.hub.clone(),
        )));
    }
}

impl Supervised for RedisBridgeActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        metrics::counter!(crate::metrics::ACTOR_RESTARTS_TOTAL, "actor" => "redis_bridge")
            .increment(1);
        self.pool = None;
        self.in_flight = 0;
    }
}

impl Handler<PublishToRedis> for RedisBridgeActor {
    type Result = ();

    fn handle(&mut self, msg: PublishToRedis, ctx: &mut Self::Context) {
        let Some(pool) = self.pool.clone() else {
            metrics::counter!(REDIS_DROPPED_TOTAL, "stage" => "not_connected").increment(1);
            return;
        };
        if self.in_flight >= self.settings.max_in_flight {
            metrics::counter!(REDIS_DROPPED_TOTAL, "stage" => "backlog").increment(1);
            return;
        }
        let id = msg.key.to_string();
        let payload = serde_json::json!({
            "node": self.settings.node_id,
            msg.key.field(): id,
            "data": &*msg.data,
        })
        .to_string();
        let mut pipe = redis::pipe();
        if let Some(p) = msg.presence {
            pipe.cmd("SET")
                .arg(self.key(&format!("device:{id}:status")))
                .arg(p.as_str())
                .ignore();
        }
        match msg.kind {
            RemoteKind::Telemetry => {
                let imei = &id;
                pipe.cmd("SET")
                    .arg(self.key(&format!("device:{imei}:latest")))
                    .arg(msg.data.to_string())
                    .arg("EX")
                    .arg(self.settings.latest_ttl.as_secs().max(1))
                    .ignore();
                // When it was last heard from (its status follows its online/offline events).
                if let Some(at) = msg.data.get("received_at").and_then(Value::as_str) {
                    pipe.cmd("SET")
                        .arg(self.key(&format!("device:{imei}:last_seen")))
                        .arg(at)
                        .ignore();
                }
                if let Some((lat, lon)) = msg.position {
                    pipe.cmd("GEOADD")
                        .arg(self.key("devices:positions"))
                        .arg(lon)
                        .arg(lat)
                        .arg(imei)
                        .ignore();
                }
                pipe.cmd("PUBLISH")
                    .arg(self.key(&format!("telemetry:{imei}")))
                    .arg(&payload)
                    .ignore();
                pipe.cmd("PUBLISH")
                    .arg(self.key("telemetry:all"))
                    .arg(&payload)
                    .ignore();
            }
            RemoteKind::Event => {
                pipe.cmd("PUBLISH")
                    .arg(self.key("events:all"))
                    .arg(&payload)
                    .ignore();
            }
            RemoteKind::Alert => {
                pipe.cmd("PUBLISH")
                    .arg(self.key("alerts:all"))
                    .arg(&payload)
                    .ignore();
                pipe.cmd("PUBLISH")
                    .arg(self.key(&format!("alerts:{id}")))
                    .arg(&payload)
                    .ignore();
            }
        }
        self.in_flight += 1;
        let fut = async move {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            pipe.query_async::<()>(&mut *conn)
                .await
                .map_err(|e| e.to_string())
        };
        ctx.spawn(fut.into_actor(self).map(|res, act, ctx| {
            act.in_flight -= 1;
            if let Err(e) = res {
                metrics::counter!(REDIS_ERRORS_TOTAL, "op" => "publish").increment(1);
                tracing::debug!("Redis publish failed: {e}");
                if act.pool.is_some() && e.contains("timed out") {
                    // Likely down: reconnect in the background; live updates stay local.
                    metrics::gauge!(REDIS_UP).set(0.0);
                    act.pool = None;
                    act.connect(ctx, Duration::from_millis(500));
                }
            }
        }));
    }
}

impl Handler<PingRedis> for RedisBridgeActor {
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(&mut self, _msg: PingRedis, _ctx: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        Box::pin(async move {
            let pool = pool.ok_or_else(|| "not connected".to_owned())?;
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            redis::cmd("PING")
                .query_async::<()>(&mut *conn)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_nodes_updates_decode_into_types() {
        let imei = "356307042441013";
        let telemetry =
            serde_json::json!({"node": "b", "imei": imei, "data": {"vehicle_id": 7, "lat": 44.7}});
        let u = decode(RemoteKind::Telemetry, &telemetry).unwrap();
        assert_eq!(u.key.to_string(), imei);
        assert_eq!(u.vehicle_id, Some(VehicleId(7)));
        assert_eq!(u.data["lat"], 44.7);
        assert!(u.cleared_by_user.is_none());
        let cleared = serde_json::json!({"node": "b", "imei": imei, "data": {
            "action": "cleared", "imei": imei,
            "alert": {"id": "0192", "last_ms": 5, "cleared_by": "ana"}}});
        let u = decode(RemoteKind::Alert, &cleared).unwrap();
        assert_eq!(
            u.cleared_by_user,
            Some(AlertForgotten {
                id: AlertId("0192".into()),
                at_ms: 5
            })
        );
        let by_condition = serde_json::json!({"node": "b", "imei": imei, "data": {
            "action": "cleared", "alert": {"id": "0193", "last_ms": 5, "cleared_by": null}}});
        assert!(decode(RemoteKind::Alert, &by_condition)
            .unwrap()
            .cleared_by_user
            .is_none());
        for junk in [
            serde_json::json!({"node": "b", "data": {}}),
            serde_json::json!({"node": "b", "imei": "12", "data": {}}),
            serde_json::json!({"node": "b", "imei": imei, "data": {"vehicle_id": "seven"}}),
            serde_json::json!({"node": "b", "imei": imei, "data": {"action": "exploded", "alert": {}}}),
        ] {
            let kind = if junk["data"].get("action").is_some() {
                RemoteKind::Alert
            } else {
                RemoteKind::Telemetry
            };
            assert!(decode(kind, &junk).is_none(), "{junk}");
        }
    }
}
