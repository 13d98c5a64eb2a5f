use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use urbanstream_schema::store::Batch;
use urbanstream_schema::{DeviceId, NodeId};

use super::logic::NodeState;
use super::rows::{add_events, add_reading, add_state};
use crate::db_batcher::Persist;
use crate::entity::{
    Accepted, Control, EntityError, EntityEvent, EntityKey, EntityUpdate, IngestOutcome,
    IngestReadings, NodeStatus, SnapshotSlot,
};
use crate::metrics::{
    ACTOR_MAILBOX_FULL_TOTAL, ACTOR_RESTARTS_TOTAL, EDGE_EVENTS_TOTAL, EDGE_MESSAGES_MISSING_TOTAL,
    EDGE_MESSAGES_REDELIVERED_TOTAL,
};

/// What every edge node actor shares.
#[derive(Clone)]
pub struct EdgeSettings {
    pub mailbox: usize,
    /// Where accepted readings, events and state changes go next (hub, rules, Redis).
    pub downstream: Arc<[Recipient<EntityUpdate>]>,
    /// The database batcher: a message is acknowledged once its rows are committed.
    pub persist: Recipient<Persist>,
    /// Nothing heard for this long: the node is offline.
    pub offline_after: Duration,
    /// The share of votes (more than) a consensus outcome needs.
    pub quorum: f64,
    /// What of a person detection's metadata is stored.
    pub person_data: super::rows::PersonData,
}

/// One per edge node.
pub struct EdgeNodeActor {
    node: NodeId,
    device_id: DeviceId,
    settings: EdgeSettings,
    state: NodeState,
    last_received: Option<Instant>,
    slot: Arc<SnapshotSlot>,
}

impl EdgeNodeActor {
    pub fn new(
        node: NodeId,
        device_id: DeviceId,
        settings: EdgeSettings,
        slot: Arc<SnapshotSlot>,
    ) -> Self {
        let mut state = NodeState::new(node);
        state.quorum = settings.quorum;
        Self {
            node,
            device_id,
            settings,
            state,
            last_received: None,
            slot,
        }
    }

    /// Publishes the snapshot for readers.
    fn publish(&self) {
        self.slot.publish(self.state.snapshot.clone());
    }

    /// Publishes the snapshot and returns it as JSON, for a change pushed to subscribers.
    fn publish_change(&self) -> bytes::Bytes {
        self.publish();
        serde_json::to_vec(&self.state.snapshot)
            .unwrap_or_default()
            .into()
    }

    fn emit(&self, readings: Vec<Accepted>, events: Vec<EntityEvent>, state: Option<bytes::Bytes>) {
        for e in &events {
            metrics::counter!(EDGE_EVENTS_TOTAL, "kind" => e.kind()).increment(1);
        }
        if self.settings.downstream.is_empty()
            || (readings.is_empty() && events.is_empty() && state.is_none())
        {
            return;
        }
        EntityUpdate {
            key: EntityKey::EdgeNode(self.node),
            device_id: self.device_id,
            vehicle_id: None,
            readings: Arc::from(readings),
            events: Arc::from(events),
            state,
        }
        .fan_out(&self.settings.downstream, "edge_downstream");
    }

    fn check_offline(&mut self) {
        let offline_after = chrono::Duration::from_std(self.settings.offline_after)
            .unwrap_or(chrono::Duration::MAX);
        let now = Utc::now();
        let events = self.state.silence(now, offline_after);
        if events.is_empty() {
            return;
        }
        tracing::info!(node = %self.node, "edge node offline: nothing heard for {:?}", self.settings.offline_after);
        let json = self.publish_change();
        let mut batch = Batch::default();
        add_events(&mut batch, self.device_id, &events);
        add_state(&mut batch, &self.state.snapshot, now.timestamp_millis());
        if self.settings.persist.try_send(Persist(batch)).is_err() {
            metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "edge_events").increment(1);
        }
        self.emit(Vec::new(), events, Some(json));
    }
}

impl Actor for EdgeNodeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.settings.mailbox);
        self.publish();
        let every = (self.settings.offline_after / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(30));
        ctx.run_interval(every, |act, _| act.check_offline());
    }
}

impl Supervised for EdgeNodeActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        metrics::counter!(ACTOR_RESTARTS_TOTAL, "actor" => "edge_node").increment(1);
        tracing::warn!(node = %self.node, "edge node actor restarting");
    }
}

impl Handler<IngestReadings> for EdgeNodeActor {
    type Result = ResponseFuture<Result<IngestOutcome, EntityError>>;

    fn handle(&mut self, mut msg: IngestReadings, _ctx: &mut Self::Context) -> Self::Result {
        self.last_received = Some(Instant::now());
        let received_ms = msg.received_at.timestamp_millis();
        let node = self.node.to_string();
        let mut batch = Batch {
            quarantine: msg.take_quarantined(&EntityKey::EdgeNode(self.node)),
            ..Batch::default()
        };
        let quarantined = batch.quarantine.len() as u32;
        let mut events = Vec::new();
        let mut out = Vec::with_capacity(msg.readings.len());
        let (mut changed, mut late) = (false, 0u32);
        let accepted = msg.readings.len() as u32;
        let missing_before = self.state.snapshot.missing_total;
        for mut reading in msg.readings {
            if let Some(q) = &mut reading.sequence {
                // A message without its boot counter belongs to the node's current boot.
                if q.boot < 0 {
                    q.boot = self.state.snapshot.boot.unwrap_or(0);
                }
            }
            let seen = self.state.observe(&reading, msg.received_at);
            add_reading(
                &mut batch,
                &node,
                &reading,
                received_ms,
                self.settings.quorum,
                self.settings.person_data,
            );
            if seen.redelivered {
                late += 1;
                continue;
            }
            changed |= seen.changed;
            events.extend(seen.events);
            out.push(Accepted {
                reading,
                late: false,
                received_at: msg.received_at,
                fence_limit: None,
            });
        }
        if late > 0 {
            metrics::counter!(EDGE_MESSAGES_REDELIVERED_TOTAL).increment(u64::from(late));
        }
        let missing = self.state.snapshot.missing_total - missing_before;
        if missing > 0 {
            metrics::counter!(EDGE_MESSAGES_MISSING_TOTAL).increment(missing);
            tracing::warn!(node = %self.node, missing, "edge node messages missing (sequence gap)");
        }
        let state = if changed || !events.is_empty() {
            add_state(&mut batch, &self.state.snapshot, received_ms);
            Some(self.publish_change())
        } else {
            self.publish();
            None
        };
        add_events(&mut batch, self.device_id, &events);
        self.emit(out, events, state);
        let persist = self.settings.persist.send(Persist(batch));
        let node = self.node;
        Box::pin(async move {
            match persist.await {
                Ok(Ok(())) => Ok(IngestOutcome {
                    accepted,
                    late,
                    quarantined,
                }),
                Ok(Err(e)) => {
                    tracing::warn!(%node, "edge node messages not stored: {e}");
                    Err(EntityError::Storage(e))
                }
                Err(_mailbox) => Err(EntityError::Unavailable),
            }
        })
    }
}

impl Handler<Control> for EdgeNodeActor {
    type Result = Option<Duration>;

    fn handle(&mut self, msg: Control, ctx: &mut Self::Context) -> Self::Result {
        match msg {
            Control::SetVehicle(_) => None,
            Control::IdleFor => {
                if self.state.status() != NodeStatus::Offline {
                    return None;
                }
                Some(self.last_received.map_or(Duration::MAX, |at| at.elapsed()))
            }
            Control::Retire => {
                ctx.stop();
                None
            }
        }
    }
}
