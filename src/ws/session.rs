//! A WebSocket client's session: parses its requests, subscribes it at the hub, and writes
//! each update to the socket before taking the next one, so that a slow client fills its
//! bounded mailbox and the hub coalesces for it.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_ws::{AggregatedMessage, AggregatedMessageStream, Session};
use serde::Deserialize;
use serde_json::json;
use urbanstream_actors::hub::{HubActor, Leave, Push, Subscribe, SubscriberId, Topic, Unsubscribe};
use urbanstream_actors::metrics::{WS_MESSAGES_REJECTED_TOTAL, WS_SESSIONS_ACTIVE};
use urbanstream_actors::registry::{DeviceRegistryActor, GetVehicleSnapshot, VehicleSnapshots};

const HEARTBEAT: Duration = Duration::from_secs(10);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Updates queued for one client before the hub starts coalescing for it.
const MAILBOX: usize = 64;

/// What a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum ClientMessage {
    Subscribe { topics: Vec<String> },
    Unsubscribe { topics: Vec<String> },
}

pub struct WsSessionActor {
    id: SubscriberId,
    session: Session,
    hub: Addr<HubActor>,
    registry: Addr<DeviceRegistryActor>,
    topics: HashSet<Topic>,
    last_heard: Instant,
    /// Frames waiting for the socket, in order. Bounded: only replies to the client's own
    /// requests queue here; hub updates wait in the mailbox, which the hub coalesces.
    outbox: VecDeque<String>,
    sending: bool,
}

impl WsSessionActor {
    pub fn start(
        session: Session,
        stream: AggregatedMessageStream,
        hub: Addr<HubActor>,
        registry: Addr<DeviceRegistryActor>,
    ) -> Addr<Self> {
        Self::create(move |ctx| {
            ctx.add_stream(stream);
            Self {
                id: SubscriberId::next(),
                session,
                hub,
                registry,
                topics: HashSet::new(),
                last_heard: Instant::now(),
                outbox: VecDeque::new(),
                sending: false,
            }
        })
    }

    /// Queues one text frame. Frames leave in order, one at a time; while one is being
    /// written nothing else is handled, so a slow socket holds back the mailbox.
    fn send(&mut self, text: impl Into<String>, ctx: &mut Context<Self>) {
        self.outbox.push_back(text.into());
        if !self.sending {
            self.pump(ctx);
        }
    }

    fn pump(&mut self, ctx: &mut Context<Self>) {
        let Some(text) = self.outbox.pop_front() else {
            self.sending = false;
            return;
        };
        self.sending = true;
        let mut session = self.session.clone();
        ctx.wait(
            async move { session.text(text).await }
                .into_actor(self)
                .map(|res, act, ctx| {
                    if res.is_err() {
                        ctx.stop();
                        return;
                    }
                    act.pump(ctx);
                }),
        );
    }

    fn error(&mut self, code: &'static str, message: String, ctx: &mut Context<Self>) {
        metrics::counter!(WS_MESSAGES_REJECTED_TOTAL, "reason" => code).increment(1);
        let frame = json!({ "type": "error", "error": { "code": code, "message": message } });
        self.send(frame.to_string(), ctx);
    }

    fn parse_topics(&mut self, names: &[String], ctx: &mut Context<Self>) -> Vec<Topic> {
        let mut topics = Vec::with_capacity(names.len());
        for n in names {
            match n.parse::<Topic>() {
                Ok(t) => topics.push(t),
                Err(e) => self.error("bad_topic", e.to_string(), ctx),
            }
        }
        topics
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let msg = match serde_json::from_str::<ClientMessage>(text) {
            Ok(m) => m,
            Err(e) => return self.error("bad_request", format!("not a valid request: {e}"), ctx),
        };
        match msg {
            ClientMessage::Subscribe { topics } => {
                let topics = self.parse_topics(&topics, ctx);
                if topics.is_empty() {
                    return;
                }
                self.hub.do_send(Subscribe {
                    id: self.id,
                    topics: topics.clone(),
                    recipient: ctx.address().recipient(),
                });
                let names: Vec<String> = topics.iter().map(Topic::to_string).collect();
                self.topics.extend(topics.iter().copied());
                self.send(
                    json!({ "type": "status", "topic": null, "data": { "subscribed": names } })
                        .to_string(),
                    ctx,
                );
                // A device's latest state comes first, so the client has something to draw.
                let entities: Vec<Topic> = topics
                    .into_iter()
                    .filter(|t| matches!(t, Topic::Device(_) | Topic::Vehicle(_)))
                    .collect();
                if !entities.is_empty() {
                    let registry = self.registry.clone();
                    let fetch = async move {
                        let mut out = Vec::with_capacity(entities.len());
                        for t in entities {
                            let data = match t {
                                Topic::Device(imei) => registry
                                    .send(GetVehicleSnapshot { imei })
                                    .await
                                    .ok()
                                    .flatten()
                                    .and_then(|s| serde_json::to_value(s).ok())
                                    .unwrap_or_default(),
                                Topic::Vehicle(vehicle_id) => registry
                                    .send(VehicleSnapshots { vehicle_id })
                                    .await
                                    .ok()
                                    .and_then(|s| serde_json::to_value(s).ok())
                                    .unwrap_or_default(),
                                _ => continue,
                            };
                            out.push(
                                json!({ "type": "status", "topic": t.to_string(), "data": data })
                                    .to_string(),
                            );
                        }
                        out
                    };
                    ctx.wait(fetch.into_actor(self).map(|frames, act, ctx| {
                        for f in frames {
                            act.send(f, ctx);
                        }
                    }));
                }
            }
            ClientMessage::Unsubscribe { topics } => {
                let topics = self.parse_topics(&topics, ctx);
                for t in &topics {
                    self.topics.remove(t);
                }
                let names: Vec<String> = topics.iter().map(Topic::to_string).collect();
                self.hub.do_send(Unsubscribe {
                    id: self.id,
                    topics,
                });
                self.send(
                    json!({ "type": "status", "topic": null, "data": { "unsubscribed": names } })
                        .to_string(),
                    ctx,
                );
            }
        }
    }
}

impl Actor for WsSessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        metrics::gauge!(WS_SESSIONS_ACTIVE).increment(1.0);
        ctx.run_interval(HEARTBEAT, |act, ctx| {
            if act.last_heard.elapsed() > CLIENT_TIMEOUT {
                tracing::debug!("WebSocket client silent for {CLIENT_TIMEOUT:?}; closing");
                ctx.stop();
                return;
            }
            let mut session = act.session.clone();
            ctx.spawn(
                async move { session.ping(b"").await }
                    .into_actor(act)
                    .map(|res, _, ctx| {
                        if res.is_err() {
                            ctx.stop();
                        }
                    }),
            );
        });
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        metrics::gauge!(WS_SESSIONS_ACTIVE).decrement(1.0);
        self.hub.do_send(Leave { id: self.id });
        let session = self.session.clone();
        actix::spawn(async move {
            let _ = session.close(None).await;
        });
    }
}

impl StreamHandler<Result<AggregatedMessage, actix_ws::ProtocolError>> for WsSessionActor {
    fn handle(
        &mut self,
        item: Result<AggregatedMessage, actix_ws::ProtocolError>,
        ctx: &mut Self::Context,
    ) {
        self.last_heard = Instant::now();
        match item {
            Ok(AggregatedMessage::Text(text)) => self.on_text(&text, ctx),
            Ok(AggregatedMessage::Binary(_)) => self.error(
                "bad_request",
                "binary frames are not accepted; send JSON text".into(),
                ctx,
            ),
            Ok(AggregatedMessage::Ping(bytes)) => {
                let mut session = self.session.clone();
                ctx.wait(
                    async move { session.pong(&bytes).await }
                        .into_actor(self)
                        .map(|_, _, _| ()),
                );
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) => ctx.stop(),
            Err(e) => {
                tracing::debug!("WebSocket protocol error: {e}");
                ctx.stop();
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<Push> for WsSessionActor {
    type Result = ();

    fn handle(&mut self, msg: Push, ctx: &mut Self::Context) {
        if self.topics.contains(&msg.topic) {
            self.send(Arc::clone(&msg.json).to_string(), ctx);
        }
    }
}
