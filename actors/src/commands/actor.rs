use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use urbanstream_schema::models::{CommandRow, NewCommand};
use urbanstream_schema::store::{DbError, Store};
use urbanstream_schema::DeviceId;

use super::messages::{
    CommandError, CommandTarget, Deliver, DeviceConnected, DeviceDisconnected, DispatchQueued,
    SubmitCommand, Submitted,
};
use crate::entity::{EntityEvent, EntityKey, EntityUpdate};
use crate::metrics::COMMANDS_QUEUED_TOTAL;

/// One per node: sends each device's commands one at a time, in the order they came.
pub struct CommandDispatcherActor {
    store: Store,
    /// Where `command_updated` events go (the hub).
    notices: Recipient<EntityUpdate>,
    queue_ttl: Duration,
    /// The connections of connected devices.
    connections: HashMap<EntityKey, Recipient<Deliver>>,
    /// Devices being dispatched, and whether another pass is wanted after this one.
    running: HashMap<DeviceId, bool>,
}

impl CommandDispatcherActor {
    pub fn new(store: Store, notices: Recipient<EntityUpdate>, queue_ttl: Duration) -> Self {
        Self {
            store,
            notices,
            queue_ttl,
            connections: HashMap::new(),
            running: HashMap::new(),
        }
    }

    fn announce(&self, t: CommandTarget, row: &CommandRow) {
        let event = EntityEvent::CommandUpdated {
            at: Utc::now(),
            command: Box::new(row.clone()),
        };
        let _ = self.notices.try_send(EntityUpdate {
            state: None,
            key: t.key,
            device_id: t.device_id,
            vehicle_id: t.vehicle_id,
            readings: Arc::from(Vec::new()),
            events: Arc::from(vec![event]),
        });
    }
}

impl Actor for CommandDispatcherActor {
    type Context = Context<Self>;
}

impl Supervised for CommandDispatcherActor {}

impl Handler<SubmitCommand> for CommandDispatcherActor {
    type Result = ResponseActFuture<Self, Result<Submitted, DbError>>;

    fn handle(&mut self, msg: SubmitCommand, _ctx: &mut Self::Context) -> Self::Result {
        let now = Utc::now().timestamp_millis();
        let ttl = i64::try_from(self.queue_ttl.as_millis()).unwrap_or(i64::MAX);
        let store = self.store.clone();
        let row = NewCommand {
            device_id: msg.target.device_id.0,
            command: msg.text,
            status: "QUEUED".into(),
            created_by: msg.by,
            created_ms: now,
            expires_ms: now.saturating_add(ttl),
            idempotency_key: msg.idempotency_key,
        };
        let target = msg.target;
        Box::pin(
            async move { store.enqueue_command(row).await }
                .into_actor(self)
                .map(move |res, act, ctx| {
                    let (command, created) = res?;
                    if created {
                        act.announce(target, &command);
                        ctx.notify(DispatchQueued(target));
                    }
                    Ok(Submitted { command, created })
                }),
        )
    }
}

impl Handler<DeviceConnected> for CommandDispatcherActor {
    type Result = ();

    fn handle(&mut self, msg: DeviceConnected, ctx: &mut Self::Context) {
        self.connections.insert(msg.target.key, msg.deliver);
        ctx.notify(DispatchQueued(msg.target));
    }
}

impl Handler<DeviceDisconnected> for CommandDispatcherActor {
    type Result = ();

    fn handle(&mut self, msg: DeviceDisconnected, _ctx: &mut Self::Context) {
        self.connections.remove(&msg.key);
    }
}

impl Handler<Deliver> for CommandDispatcherActor {
    type Result = ResponseFuture<Result<String, CommandError>>;

    fn handle(&mut self, msg: Deliver, _ctx: &mut Self::Context) -> Self::Result {
        let deliver = self.connections.get(&msg.key).cloned();
        Box::pin(send(deliver, msg))
    }
}

/// Sends over a connection; no connection (or a closed one) is `NotConnected`.
async fn send(deliver: Option<Recipient<Deliver>>, msg: Deliver) -> Result<String, CommandError> {
    let Some(deliver) = deliver else {
        return Err(CommandError::NotConnected);
    };
    deliver
        .send(msg)
        .await
        .unwrap_or(Err(CommandError::NotConnected))
}

/// How one send ended.
enum Sent {
    Done(Box<CommandRow>),
    /// Not connected (any more): back to the queue until the next login.
    Requeued,
    /// The session has too many commands in flight: try again shortly.
    Busy,
}

impl Handler<DispatchQueued> for CommandDispatcherActor {
    type Result = ();

    fn handle(&mut self, msg: DispatchQueued, ctx: &mut Self::Context) {
        let d = msg.0;
        if let Some(again) = self.running.get_mut(&d.device_id) {
            *again = true;
            return;
        }
        self.running.insert(d.device_id, false);
        let store = self.store.clone();
        let deliver = self.connections.get(&d.key).cloned();
        let pass = async move {
            let now = Utc::now().timestamp_millis();
            let queued = store.queued_commands(d.device_id.0, now).await?;
            let mut done = Vec::new();
            let mut busy = false;
            for cmd in queued {
                if !store
                    .mark_command_sent(cmd.id, Utc::now().timestamp_millis())
                    .await?
                {
                    continue;
                }
                let answer = send(
                    deliver.clone(),
                    Deliver {
                        key: d.key,
                        text: cmd.command.clone(),
                    },
                )
                .await;
                let at = Utc::now().timestamp_millis();
                let sent = match answer {
                    Ok(text) => store
                        .finish_command(cmd.id, at, Ok(text))
                        .await?
                        .map_or(Sent::Requeued, |r| Sent::Done(Box::new(r))),
                    Err(CommandError::NotConnected | CommandError::Disconnected) => {
                        store.requeue_command(cmd.id).await?;
                        Sent::Requeued
                    }
                    Err(CommandError::Busy) => {
                        store.requeue_command(cmd.id).await?;
                        Sent::Busy
                    }
                    Err(e @ (CommandError::Timeout | CommandError::Invalid(_))) => store
                        .finish_command(cmd.id, at, Err(e.to_string()))
                        .await?
                        .map_or(Sent::Requeued, |r| Sent::Done(Box::new(r))),
                };
                match sent {
                    Sent::Done(row) => done.push(*row),
                    Sent::Requeued => break,
                    Sent::Busy => {
                        busy = true;
                        break;
                    }
                }
            }
            Ok::<_, DbError>((done, busy))
        };
        ctx.spawn(pass.into_actor(self).map(move |res, act, ctx| {
            let again = act.running.remove(&d.device_id).unwrap_or(false);
            match res {
                Ok((done, busy)) => {
                    for row in &done {
                        let outcome = if row.status == "ANSWERED" {
                            "answered"
                        } else {
                            "failed"
                        };
                        metrics::counter!(COMMANDS_QUEUED_TOTAL, "outcome" => outcome).increment(1);
                        act.announce(d, row);
                    }
                    if busy {
                        ctx.notify_later(DispatchQueued(d), Duration::from_secs(1));
                    } else if again {
                        ctx.notify(DispatchQueued(d));
                    }
                }
                Err(e) => {
                    tracing::warn!(key = %d.key, "device commands not dispatched: {e}");
                    if again {
                        ctx.notify_later(DispatchQueued(d), Duration::from_secs(1));
                    }
                }
            }
        }));
    }
}
