use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use urbanstream_schema::models::{CommandRow, NewCommand};
use urbanstream_schema::store::{DbError, Store};
use urbanstream_schema::Imei;

use crate::hub::DeviceNotice;
use crate::metrics::COMMANDS_QUEUED_TOTAL;
use crate::registry::SendDeviceCommand;
use crate::teltonika::CommandError;

/// A command for a device, from a user: stored as QUEUED and sent when possible.
#[derive(Debug, Message)]
#[rtype(result = "Result<CommandRow, DbError>")]
pub struct SubmitCommand {
    pub imei: Imei,
    pub device_id: i64,
    pub vehicle_id: Option<i64>,
    pub text: String,
    pub by: String,
}

/// A device logged in: its queued commands go out now.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeviceConnected {
    pub imei: Imei,
    pub device_id: i64,
    pub vehicle_id: Option<i64>,
}

/// Sends what is queued for a device (after a submit, a login, or a busy session).
#[derive(Debug, Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct DispatchQueued {
    pub imei: Imei,
    pub device_id: i64,
    pub vehicle_id: Option<i64>,
}

/// One per node: sends each device's commands one at a time, in the order they came.
pub struct CommandDispatcherActor {
    store: Store,
    send: Recipient<SendDeviceCommand>,
    notices: Recipient<DeviceNotice>,
    queue_ttl: Duration,
    /// Devices being dispatched, and whether another pass is wanted after this one.
    running: HashMap<i64, bool>,
}

impl CommandDispatcherActor {
    pub fn new(
        store: Store,
        send: Recipient<SendDeviceCommand>,
        notices: Recipient<DeviceNotice>,
        queue_ttl: Duration,
    ) -> Self {
        Self {
            store,
            send,
            notices,
            queue_ttl,
            running: HashMap::new(),
        }
    }

    fn announce(&self, d: DispatchQueued, row: &CommandRow) {
        let event = serde_json::json!({
            "kind": "command_updated",
            "at": Utc::now(),
            "command": row,
        });
        let _ = self.notices.try_send(DeviceNotice {
            imei: d.imei,
            vehicle_id: d.vehicle_id,
            event,
        });
    }
}

impl Actor for CommandDispatcherActor {
    type Context = Context<Self>;
}

impl Supervised for CommandDispatcherActor {}

impl Handler<SubmitCommand> for CommandDispatcherActor {
    type Result = ResponseActFuture<Self, Result<CommandRow, DbError>>;

    fn handle(&mut self, msg: SubmitCommand, _ctx: &mut Self::Context) -> Self::Result {
        let now = Utc::now().timestamp_millis();
        let ttl = i64::try_from(self.queue_ttl.as_millis()).unwrap_or(i64::MAX);
        let store = self.store.clone();
        let row = NewCommand {
            device_id: msg.device_id,
            command: msg.text,
            status: "QUEUED".into(),
            created_by: msg.by,
            created_ms: now,
            expires_ms: now.saturating_add(ttl),
        };
        let d = DispatchQueued {
            imei: msg.imei,
            device_id: msg.device_id,
            vehicle_id: msg.vehicle_id,
        };
        Box::pin(
            async move { store.enqueue_command(row).await }
                .into_actor(self)
                .map(move |res, act, ctx| {
                    if let Ok(row) = &res {
                        act.announce(d, row);
                        ctx.notify(d);
                    }
                    res
                }),
        )
    }
}

impl Handler<DeviceConnected> for CommandDispatcherActor {
    type Result = ();

    fn handle(&mut self, msg: DeviceConnected, ctx: &mut Self::Context) {
        ctx.notify(DispatchQueued {
            imei: msg.imei,
            device_id: msg.device_id,
            vehicle_id: msg.vehicle_id,
        });
    }
}

/// How one send ended.
enum Sent {
    Done(CommandRow),
    /// Not connected (any more): back to the queue until the next login.
    Requeued,
    /// The session has too many commands in flight: try again shortly.
    Busy,
}

impl Handler<DispatchQueued> for CommandDispatcherActor {
    type Result = ();

    fn handle(&mut self, d: DispatchQueued, ctx: &mut Self::Context) {
        if let Some(again) = self.running.get_mut(&d.device_id) {
            *again = true;
            return;
        }
        self.running.insert(d.device_id, false);
        let store = self.store.clone();
        let send = self.send.clone();
        let pass = async move {
            let now = Utc::now().timestamp_millis();
            let queued = store.queued_commands(d.device_id, now).await?;
            let mut done = Vec::new();
            let mut busy = false;
            for cmd in queued {
                if !store
                    .mark_command_sent(cmd.id, Utc::now().timestamp_millis())
                    .await?
                {
                    continue;
                }
                let answer = send
                    .send(SendDeviceCommand {
                        imei: d.imei,
                        text: cmd.command.clone(),
                    })
                    .await
                    .unwrap_or(Err(CommandError::NotConnected));
                let at = Utc::now().timestamp_millis();
                let sent = match answer {
                    Ok(text) => store
                        .finish_command(cmd.id, at, Ok(text))
                        .await?
                        .map_or(Sent::Requeued, Sent::Done),
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
                        .map_or(Sent::Requeued, Sent::Done),
                };
                match sent {
                    Sent::Done(row) => done.push(row),
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
                        ctx.notify_later(d, Duration::from_secs(1));
                    } else if again {
                        ctx.notify(d);
                    }
                }
                Err(e) => {
                    tracing::warn!(imei = %d.imei, "device commands not dispatched: {e}");
                    if again {
                        ctx.notify_later(d, Duration::from_secs(1));
                    }
                }
            }
        }));
    }
}
