//! A WebSocket client's session: parses its requests, subscribes it at the hub, and writes
//! each update to the socket before taking the next one, so that a slow client fills its
//! bounded mailbox and the hub coalesces for it.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use futures_util::StreamExt;
use serde_json::json;
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::hub::{
    BBox, ClientMessage, HubActor, Leave, Push, PushKind, SetViewport, Subscribe, SubscriberId,
    Topic, Unsubscribe,
};
use urbanstream_actors::metrics::{
    WS_CLIENTS_CUT_OFF_TOTAL, WS_MESSAGES_REJECTED_TOTAL, WS_SESSIONS_ACTIVE,
};
use urbanstream_actors::registry::Directory;
use urbanstream_actors::vehicle::VehicleSnapshot;
use urbanstream_schema::VehicleId;

use crate::auth::topic_roles;
use crate::auth::{AuthService, Principal, PrincipalKind};
use crate::config::WsSettings;
use crate::tracking::CameraFeeds;

const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long a connection may stay without a valid token.
const AUTH_WAIT: Duration = Duration::from_secs(10);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Updates queued for one client before the hub starts coalescing for it.
const MAILBOX: usize = 64;

/// The shortest and longest batching interval a client may ask for.
const BATCH_MS: std::ops::RangeInclusive<u64> = 20..=5000;

/// Telemetry waiting for the next batch frame: the latest per topic and entity, in the
/// order each first arrived.
#[derive(Default)]
struct Batcher {
    frames: Vec<Arc<str>>,
    index: std::collections::HashMap<(Topic, EntityKey), usize>,
    timer: Option<SpawnHandle>,
}

impl Batcher {
    fn put(&mut self, topic: Topic, entity: EntityKey, json: Arc<str>) {
        match self.index.get(&(topic, entity)) {
            Some(&i) => self.frames[i] = json,
            None => {
                self.index.insert((topic, entity), self.frames.len());
                self.frames.push(json);
            }
        }
    }

    /// `{"type":"batch","items":[…]}` of what waits, or nothing.
    fn take(&mut self) -> Option<String> {
        if self.frames.is_empty() {
            return None;
        }
        self.index.clear();
        let len: usize = self.frames.iter().map(|f| f.len() + 1).sum();
        let mut out = String::with_capacity(len + 32);
        out.push_str(r#"{"type":"batch","topic":null,"items":["#);
        for (i, f) in self.frames.drain(..).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&f);
        }
        out.push_str("]}");
        Some(out)
    }
}

/// A frame for the socket: JSON text, or a camera's picture.
enum Out {
    Text(String),
    Picture(bytes::Bytes),
}

pub struct WsSessionActor {
    id: SubscriberId,
    session: Session,
    /// Video cameras' pictures, and the watches on those this client subscribed to.
    feeds: CameraFeeds,
    watching: std::collections::HashMap<u32, SpawnHandle>,
    /// The newest picture of each watched camera not yet written: a slow client skips
    /// pictures rather than queueing them.
    pictures: std::collections::BTreeMap<u32, bytes::Bytes>,
    hub: Addr<HubActor>,
    /// The entities' published snapshots, for a topic's first frame.
    directory: Directory,
    topics: HashSet<Topic>,
    last_heard: Instant,
    /// Frames waiting for the socket, in order. Bounded: only replies to the client's own
    /// requests queue here; hub updates wait in the mailbox, which the hub coalesces.
    outbox: VecDeque<Out>,
    sending: bool,
    auth: Arc<AuthService>,
    /// The caller and the credential it proved it with (re-checked every heartbeat).
    principal: Option<(Principal, String)>,
    expiry: Option<SpawnHandle>,
    close_reason: Option<CloseReason>,
    /// Set when the client asked for batched telemetry.
    batch: Option<Batcher>,
    /// Topics held at once, and how long one frame may take to leave (`[ws]`).
    limits: WsSettings,
    /// The area the client asked for, kept for the hub: an area asked before the first
    /// subscription holds from that subscription on.
    viewport: Option<BBox>,
}

impl WsSessionActor {
    pub fn start(
        session: Session,
        stream: AggregatedMessageStream,
        hub: Addr<HubActor>,
        directory: Directory,
        auth: Arc<AuthService>,
        principal: Option<(Principal, String)>,
        (feeds, limits): (CameraFeeds, WsSettings),
    ) -> Addr<Self> {
        Self::create(move |ctx| {
            ctx.add_stream(stream);
            Self {
                id: SubscriberId::next(),
                session,
                feeds,
                watching: Default::default(),
                pictures: Default::default(),
                hub,
                directory,
                topics: HashSet::new(),
                last_heard: Instant::now(),
                outbox: VecDeque::new(),
                sending: false,
                auth,
                principal,
                expiry: None,
                close_reason: None,
                batch: None,
                limits,
                viewport: None,
            }
        })
    }

    /// Queues one text frame. Frames leave in order, one at a time; while one is being
    /// written nothing else is handled, so a slow socket holds back the mailbox.
    fn send(&mut self, text: impl Into<String>, ctx: &mut Context<Self>) {
        self.outbox.push_back(Out::Text(text.into()));
        if !self.sending {
            self.pump(ctx);
        }
    }

    fn pump(&mut self, ctx: &mut Context<Self>) {
        // Text first (replies and updates keep their order), then the pictures waiting.
        let next = self.outbox.pop_front().or_else(|| {
            let id = *self.pictures.keys().next()?;
            self.pictures.remove(&id).map(Out::Picture)
        });
        let Some(out) = next else {
            self.sending = false;
            return;
        };
        self.sending = true;
        let mut session = self.session.clone();
        let limit = self.limits.write_timeout;
        ctx.wait(
            async move {
                let write = async {
                    match out {
                        Out::Text(text) => session.text(text).await,
                        Out::Picture(jpeg) => session.binary(jpeg).await,
                    }
                };
                tokio::time::timeout(limit, write).await
            }
            .into_actor(self)
            .map(move |res, act, ctx| match res {
                Ok(Ok(())) => act.pump(ctx),
                Ok(Err(_closed)) => ctx.stop(),
                Err(_elapsed) => {
                    // It stopped reading (or cannot keep up even coalesced): holding it would
                    // keep its backlog at the hub and this actor blocked for good.
                    metrics::counter!(WS_CLIENTS_CUT_OFF_TOTAL, "reason" => "slow").increment(1);
                    act.close_reason = Some(CloseReason {
                        code: CloseCode::Again,
                        description: Some(format!(
                            "too slow: one frame took longer than {} ms to leave",
                            limit.as_millis()
                        )),
                    });
                    ctx.stop();
                }
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

    /// Closes with 1008 (policy violation).
    fn close_policy(&mut self, why: &str, ctx: &mut Context<Self>) {
        metrics::counter!(WS_MESSAGES_REJECTED_TOTAL, "reason" => "policy_close").increment(1);
        self.close_reason = Some(CloseReason {
            code: CloseCode::Policy,
            description: Some(why.to_owned()),
        });
        ctx.stop();
    }

    /// Takes a verified principal: schedules the close at its token's expiry and drops the
    /// subscriptions its role does not admit.
    fn authenticated(&mut self, principal: Principal, token: String, ctx: &mut Context<Self>) {
        if let Some(h) = self.expiry.take() {
            ctx.cancel_future(h);
        }
        if let PrincipalKind::User { expires_ms, .. } = principal.kind {
            let left = u64::try_from(expires_ms - crate::auth::now_ms()).unwrap_or(0);
            self.expiry = Some(ctx.run_later(Duration::from_millis(left), |act, ctx| {
                act.close_policy("access token expired", ctx);
            }));
        }
        let lost: Vec<Topic> = self
            .topics
            .iter()
            .filter(|t| !topic_roles(t).contains(&principal.role))
            .copied()
            .collect();
        if !lost.is_empty() {
            for t in &lost {
                self.topics.remove(t);
            }
            self.hub.do_send(Unsubscribe {
                id: self.id,
                topics: lost,
            });
        }
        let frame = json!({ "type": "status", "topic": null,
            "data": { "authenticated": principal.name, "role": principal.role } });
        self.principal = Some((principal, token));
        self.send(frame.to_string(), ctx);
    }

    /// Sends camera `id`'s pictures as binary messages (`[camera id: u32][time ms: i64]`, big
    /// endian, then the JPEG), the newest one whenever the socket is free.
    fn watch_camera(&mut self, id: u32, ctx: &mut Context<Self>) {
        let Some(feed) = self.feeds.get(&id) else {
            return self.error(
                "bad_topic",
                format!("camera {id} has no picture: it is not configured or its people come from an edge node's detections"),
                ctx,
            );
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = self.watching.entry(id) {
            let mut rx = feed.subscribe();
            rx.mark_unchanged();
            let watch = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.changed().await.ok()?;
                let picture = rx.borrow_and_update().clone();
                Some((picture, rx))
            })
            .filter_map(std::future::ready)
            .map(move |p| (id, p));
            slot.insert(ctx.add_stream(watch));
        }
        self.send(
            json!({ "type": "status", "topic": null, "data": { "subscribed": [format!("camera:{id}")] } })
                .to_string(),
            ctx,
        );
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let msg = match ClientMessage::parse(text) {
            Ok(m) => m,
            Err(e) => return self.error("bad_request", e, ctx),
        };
        let role = match (&msg, &self.principal) {
            (ClientMessage::Auth { .. }, _) => None,
            (_, Some((p, _))) => Some(p.role),
            (_, None) => {
                return self.error(
                    "unauthenticated",
                    "send {\"op\":\"auth\",\"token\":\"…\"} first".into(),
                    ctx,
                )
            }
        };
        match msg {
            ClientMessage::Auth { token } => {
                let auth = self.auth.clone();
                ctx.wait(
                    async move { auth.authenticate(&token).await.map(|p| (p, token)) }
                        .into_actor(self)
                        .map(|res, act, ctx| match res {
                            Ok((p, token)) => act.authenticated(p, token, ctx),
                            Err(e) => act.error("unauthenticated", e.to_string(), ctx),
                        }),
                );
            }
            ClientMessage::Subscribe { topics } => {
                let mut topics = self.parse_topics(&topics, ctx);
                let role = role.unwrap_or(crate::auth::Role::Viewer);
                let (allowed, denied): (Vec<Topic>, Vec<Topic>) = topics
                    .drain(..)
                    .partition(|t| topic_roles(t).contains(&role));
                for t in denied {
                    self.error(
                        "forbidden",
                        format!("role {role} may not subscribe to {t}"),
                        ctx,
                    );
                }
                // Cameras' pictures come from their feeds, the rest from the hub.
                let mut topics = Vec::with_capacity(allowed.len());
                for t in allowed {
                    match t {
                        Topic::Camera(id) => self.watch_camera(id, ctx),
                        t => topics.push(t),
                    }
                }
                if topics.is_empty() {
                    return;
                }
                let new = topics.iter().filter(|t| !self.topics.contains(t)).count();
                if self.topics.len() + new > self.limits.max_topics {
                    return self.error(
                        "too_many_topics",
                        format!(
                            "a connection holds at most {} topics ({} held, {new} more asked); unsubscribe first",
                            self.limits.max_topics,
                            self.topics.len()
                        ),
                        ctx,
                    );
                }
                self.hub.do_send(Subscribe {
                    id: self.id,
                    topics: topics.clone(),
                    recipient: ctx.address().recipient(),
                });
                if self.viewport.is_some() {
                    self.hub.do_send(SetViewport {
                        id: self.id,
                        area: self.viewport,
                    });
                }
                let names: Vec<String> = topics.iter().map(Topic::to_string).collect();
                self.topics.extend(topics.iter().copied());
                self.send(
                    json!({ "type": "status", "topic": null, "data": { "subscribed": names } })
                        .to_string(),
                    ctx,
                );
                // An entity's latest state comes first, so the client has something to draw.
                for t in topics {
                    let data = match t {
                        Topic::Device(imei) => serde_json::to_value(
                            self.directory
                                .latest_as::<VehicleSnapshot>(&EntityKey::Tracker(imei)),
                        )
                        .unwrap_or_default(),
                        Topic::Vehicle(vehicle_id) => serde_json::to_value(
                            self.directory
                                .in_vehicle::<VehicleSnapshot>(VehicleId(vehicle_id)),
                        )
                        .unwrap_or_default(),
                        _ => continue,
                    };
                    self.send(
                        json!({ "type": "status", "topic": t.to_string(), "data": data })
                            .to_string(),
                        ctx,
                    );
                }
            }
            ClientMessage::Batch { every_ms } => {
                if every_ms != 0 && !BATCH_MS.contains(&every_ms) {
                    return self.error(
                        "bad_request",
                        format!(
                            "every_ms must be 0 (off) or {}..={}, got {every_ms}",
                            BATCH_MS.start(),
                            BATCH_MS.end()
                        ),
                        ctx,
                    );
                }
                if let Some(mut old) = self.batch.take() {
                    if let Some(h) = old.timer.take() {
                        ctx.cancel_future(h);
                    }
                    if let Some(frame) = old.take() {
                        self.send(frame, ctx);
                    }
                }
                if every_ms > 0 {
                    let timer = ctx.run_interval(Duration::from_millis(every_ms), |act, ctx| {
                        if let Some(frame) = act.batch.as_mut().and_then(Batcher::take) {
                            act.send(frame, ctx);
                        }
                    });
                    self.batch = Some(Batcher {
                        timer: Some(timer),
                        ..Batcher::default()
                    });
                }
                self.send(
                    json!({ "type": "status", "topic": null, "data": { "batch_ms": every_ms } })
                        .to_string(),
                    ctx,
                );
            }
            ClientMessage::Viewport { bbox } => {
                let area = match bbox.map(|[w, s, e, n]| BBox::new(w, s, e, n)).transpose() {
                    Ok(a) => a,
                    Err(e) => return self.error("bad_request", e, ctx),
                };
                self.viewport = area;
                self.hub.do_send(SetViewport { id: self.id, area });
                self.send(
                    json!({ "type": "status", "topic": null, "data": { "viewport": bbox } })
                        .to_string(),
                    ctx,
                );
            }
            ClientMessage::Unsubscribe { topics } => {
                let topics = self.parse_topics(&topics, ctx);
                for t in &topics {
                    self.topics.remove(t);
                    if let Topic::Camera(id) = t {
                        if let Some(h) = self.watching.remove(id) {
                            ctx.cancel_future(h);
                        }
                        self.pictures.remove(id);
                    }
                }
                if self.topics.capacity() > 64 && self.topics.len() < self.topics.capacity() / 4 {
                    self.topics.shrink_to(self.topics.len() * 2);
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
        if let Some((p, token)) = self.principal.take() {
            self.authenticated(p, token, ctx);
        }
        ctx.run_later(AUTH_WAIT, |act, ctx| {
            if act.principal.is_none() {
                act.close_policy("no valid token", ctx);
            }
        });
        ctx.run_interval(HEARTBEAT, |act, ctx| {
            if act.last_heard.elapsed() > CLIENT_TIMEOUT {
                tracing::debug!("WebSocket client silent for {CLIENT_TIMEOUT:?}; closing");
                ctx.stop();
                return;
            }
            // A revoked session or key ends the connection.
            if let Some((_, token)) = &act.principal {
                let (auth, token) = (act.auth.clone(), token.clone());
                ctx.spawn(
                    async move { auth.authenticate(&token).await }
                        .into_actor(act)
                        .map(|res, act, ctx| {
                            if let Err(e) = res {
                                act.close_policy(&e.to_string(), ctx);
                            }
                        }),
                );
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
        let reason = self.close_reason.take();
        let limit = self.limits.write_timeout;
        actix::spawn(async move {
            // A client that does not read cannot take the close frame either: give up on it
            // rather than hold the connection's sender (and the connection) for good.
            let _ = tokio::time::timeout(limit, session.close(reason)).await;
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
        if !self.topics.contains(&msg.topic) {
            return;
        }
        if let (Some(batch), PushKind::Telemetry, Some(entity)) =
            (self.batch.as_mut(), msg.kind, msg.entity)
        {
            batch.put(msg.topic, entity, msg.json);
            return;
        }
        self.send(Arc::clone(&msg.json).to_string(), ctx);
    }
}

impl StreamHandler<(u32, bytes::Bytes)> for WsSessionActor {
    fn handle(&mut self, (id, picture): (u32, bytes::Bytes), ctx: &mut Self::Context) {
        if !self.watching.contains_key(&id) {
            return;
        }
        self.pictures.insert(id, picture);
        if !self.sending {
            self.pump(ctx);
        }
    }

    /// A camera's feed ended: the session goes on.
    fn finished(&mut self, _ctx: &mut Self::Context) {}
}
