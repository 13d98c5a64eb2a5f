//! From a received MQTT message to the moment it may be acknowledged: understood, handed to
//! its node's entity and committed, or refused and kept as a dead letter (committed too).
//! Shared by the client of an external broker and the embedded broker.

use std::collections::HashMap;
use std::time::Duration;

use actix::Recipient;
use chrono::Utc;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use urbanstream_schema::models::NewMqttDeadLetter;
use urbanstream_schema::store::Batch;
use urbanstream_schema::NodeId;

use super::payload::{self, Limits, Refused};
use crate::db_batcher::Persist;
use crate::entity::{EntityKey, IngestReadings};
use crate::metrics::{MQTT_MESSAGES_REJECTED_TOTAL, MQTT_MESSAGES_TOTAL};
use crate::registry::{AuthorizeDevice, LoginRefused};

/// What became of a message once it may be acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    Stored,
    /// Refused for this reason and kept as a dead letter.
    DeadLettered(&'static str),
}

/// Resolves when the message may be acknowledged: never before its rows are committed.
pub type AckFuture = BoxFuture<'static, Disposition>;

/// Dead letters keep this much of a payload.
const DEAD_LETTER_BYTES: usize = 4096;
/// First wait before storing a message again; doubles up to `MAX_RETRY`.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// One per connection to a broker (or per embedded broker session): it caches where each
/// node's messages go.
pub struct Ingest {
    registry: Recipient<AuthorizeDevice>,
    persist: Recipient<Persist>,
    limits: Limits,
    grants: HashMap<NodeId, Recipient<IngestReadings>>,
}

impl Ingest {
    pub fn new(
        registry: Recipient<AuthorizeDevice>,
        persist: Recipient<Persist>,
        limits: Limits,
    ) -> Self {
        Self {
            registry,
            persist,
            limits,
            grants: HashMap::new(),
        }
    }

    /// Takes a message in. What it returns resolves once the message may be acknowledged;
    /// messages of one node reach its entity in the order they were admitted.
    pub async fn admit(&mut self, topic: &str, payload: &bytes::Bytes) -> AckFuture {
        let now = Utc::now();
        let parsed = match payload::parse(topic, payload, now, self.limits) {
            Ok(p) => p,
            Err(refused) => return self.dead_letter(topic, payload, refused),
        };
        metrics::counter!(MQTT_MESSAGES_TOTAL, "type" => parsed.kind.as_str()).increment(1);
        let entity = match self.entity(parsed.node).await {
            Ok(e) => e,
            Err(refused) => return self.dead_letter(topic, payload, refused),
        };
        let node = parsed.node;
        let first = entity.send(IngestReadings::new(vec![parsed.reading], now));
        // A retry reads the message again (rare): the hot path copies nothing.
        let (topic, payload, limits) = (topic.to_owned(), payload.clone(), self.limits);
        let registry = self.registry.clone();
        async move {
            let mut entity = entity;
            let mut attempt = first.await;
            let mut wait = FIRST_RETRY;
            loop {
                match attempt {
                    Ok(Ok(_)) => return Disposition::Stored,
                    Ok(Err(e)) => {
                        tracing::debug!(%node, "message not stored ({e}); retrying in {wait:?}");
                    }
                    Err(_mailbox) => {
                        // The entity stopped (deleted, retired): ask for it again.
                        if let Ok(Ok(grant)) = registry
                            .send(AuthorizeDevice {
                                key: EntityKey::EdgeNode(node),
                                connection: None,
                            })
                            .await
                        {
                            entity = grant.entity;
                        }
                    }
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_RETRY);
                let Ok(again) = payload::parse(&topic, &payload, now, limits) else {
                    // Understood once, so understood again: parsing depends on `now` only.
                    return Disposition::Stored;
                };
                attempt = entity
                    .send(IngestReadings::new(vec![again.reading], Utc::now()))
                    .await;
            }
        }
        .boxed()
    }

    /// Where `node`'s messages go; registered on first contact when the registry allows.
    async fn entity(&mut self, node: NodeId) -> Result<Recipient<IngestReadings>, Refused> {
        if let Some(e) = self.grants.get(&node) {
            if e.connected() {
                return Ok(e.clone());
            }
        }
        let mut wait = FIRST_RETRY;
        loop {
            let asked = self
                .registry
                .send(AuthorizeDevice {
                    key: EntityKey::EdgeNode(node),
                    connection: None,
                })
                .await;
            match asked {
                Ok(Ok(grant)) => {
                    self.grants.insert(node, grant.entity.clone());
                    return Ok(grant.entity);
                }
                Ok(Err(LoginRefused::Unknown(_) | LoginRefused::NoFactory)) => {
                    return Err(Refused::UnknownNode(node));
                }
                Ok(Err(LoginRefused::Storage(e))) => {
                    tracing::warn!(%node, "node not registered ({e}); retrying in {wait:?}");
                }
                Err(e) => {
                    return Err(Refused::Unavailable(e.to_string()));
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_RETRY);
        }
    }

    /// Keeps a refused message for inspection; it may be acknowledged once that is
    /// committed (so that the broker does not redeliver poison forever).
    pub fn dead_letter(&self, topic: &str, payload: &[u8], refused: Refused) -> AckFuture {
        let reason = refused.reason();
        metrics::counter!(MQTT_MESSAGES_REJECTED_TOTAL, "reason" => reason).increment(1);
        tracing::debug!(topic, "MQTT message refused: {refused}");
        let row = NewMqttDeadLetter {
            received_ms: Utc::now().timestamp_millis(),
            topic: topic.chars().take(512).collect(),
            reason: reason.to_owned(),
            detail: refused.to_string().chars().take(1024).collect(),
            payload: payload[..payload.len().min(DEAD_LETTER_BYTES)].to_vec(),
        };
        let persist = self.persist.clone();
        async move {
            let mut wait = FIRST_RETRY;
            loop {
                let batch = Batch {
                    dead_letters: vec![row.clone()],
                    ..Batch::default()
                };
                match persist.send(Persist(batch)).await {
                    Ok(Ok(())) => return Disposition::DeadLettered(reason),
                    Ok(Err(e)) => tracing::debug!("dead letter not stored ({e}); retrying"),
                    Err(e) => tracing::debug!("dead letter not stored ({e}); retrying"),
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_RETRY);
            }
        }
        .boxed()
    }
}

/// Acknowledgements in the order messages arrived (MQTT 3.1.1 §4.6), each once its message
/// may be acknowledged. `T` is what acknowledging takes (a packet id, a publish).
pub struct InOrder<T> {
    pending: futures_util::stream::FuturesOrdered<
        BoxFuture<'static, (T, Disposition, std::time::Instant)>,
    >,
}

impl<T: Send + 'static> Default for InOrder<T> {
    fn default() -> Self {
        Self {
            pending: futures_util::stream::FuturesOrdered::new(),
        }
    }
}

impl<T: Send + 'static> InOrder<T> {
    pub fn push(&mut self, token: T, ready: AckFuture) {
        let received = std::time::Instant::now();
        self.pending.push_back(
            async move {
                let disposition = ready.await;
                (token, disposition, received)
            }
            .boxed(),
        );
        metrics::gauge!(crate::metrics::MQTT_UNACKED).increment(1.0);
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The next acknowledgement due, in arrival order, with what became of its message;
    /// pending forever when none waits.
    pub async fn next(&mut self) -> (T, Disposition) {
        use futures_util::StreamExt;
        match self.pending.next().await {
            Some((token, disposition, received)) => {
                metrics::gauge!(crate::metrics::MQTT_UNACKED).decrement(1.0);
                metrics::histogram!(crate::metrics::MQTT_ACK_SECONDS)
                    .record(received.elapsed().as_secs_f64());
                (token, disposition)
            }
            None => std::future::pending().await,
        }
    }
}

impl<T> Drop for InOrder<T> {
    fn drop(&mut self) {
        metrics::gauge!(crate::metrics::MQTT_UNACKED).decrement(self.pending.len() as f64);
    }
}
