//! The embedded broker: with no external broker configured, nodes connect here. It speaks
//! MQTT 3.1.1 to nodes and is built for one guarantee: **a node's PUBACK means its message
//! is committed** (for QoS 1; PUBREC for QoS 2), so a crash of this process loses nothing a
//! node was told was received — the node still holds it and sends it again.
//!
//! Beyond ingest it is a small broker: subscriptions with `+`/`#`, retained messages, last
//! wills, and delivery to subscribers at QoS 0 of what was committed (and of other topics,
//! as received). It keeps no sessions across restarts (`session_present` is always false):
//! durability sits with the publisher, which keeps unacknowledged messages.
//!
//! In production every node is someone: it publishes only its own topics
//! (`edge-qi/nodes/{id}/…`, `edge-qi/{detection,metrics,consensus}/{id}`), subscribes only to
//! what is addressed to it (`edge-qi/nodes/{id}/…`, `edge-qi/{kind}/{id}`), publishes nothing
//! outside the prefix, and its client id is taken over only by a connection with its own
//! credentials. Only accepted messages reach subscribers; retained messages are bounded in
//! number and bytes. The development overlay lets anyone do anything, and says so.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Recipient;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, SinkExt, StreamExt};
use rumqttc::mqttbytes::v4::{
    Codec, ConnAck, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, Publish, SubAck,
    SubscribeReasonCode, UnsubAck,
};
use rumqttc::mqttbytes::{matches, valid_filter, QoS};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

use super::payload::{self, Limits, PREFIX};
use super::pipeline::{AckFuture, Disposition, InOrder, Ingest};
use crate::db_batcher::Persist;
use crate::metrics::{MQTT_CLIENTS_ACTIVE, MQTT_CONNECTS_REFUSED_TOTAL};
use crate::registry::AuthorizeDevice;

#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub limits: Limits,
    /// Messages of one connection received and not yet acknowledged, at most; beyond,
    /// reading from it pauses.
    pub inflight: usize,
    /// How long a new connection has to send CONNECT.
    pub connect_timeout: Duration,
    /// Messages queued for a subscriber; beyond, it misses them (QoS 0).
    pub subscriber_queue: usize,
    /// Retained messages kept, at most, and their payloads' bytes in all; a new retained
    /// topic beyond either is delivered but not kept.
    pub max_retained: usize,
    pub max_retained_bytes: usize,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            inflight: 1024,
            connect_timeout: Duration::from_secs(10),
            subscriber_queue: 4096,
            max_retained: 10_000,
            max_retained_bytes: 16 << 20,
        }
    }
}

/// What a connecting client presents.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Why a client may not connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    BadCredentials,
    NotAuthorized,
    Unavailable,
}

impl Refusal {
    fn code(self) -> ConnectReturnCode {
        match self {
            Self::BadCredentials => ConnectReturnCode::BadUserNamePassword,
            Self::NotAuthorized => ConnectReturnCode::NotAuthorized,
            Self::Unavailable => ConnectReturnCode::ServiceUnavailable,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::BadCredentials => "bad_credentials",
            Self::NotAuthorized => "not_authorized",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Who a client is once admitted: a node (it may publish only its own topics) or anyone
/// (development: any node may connect and is registered on first contact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    Node(urbanstream_schema::NodeId),
    /// A node not (yet) admitted by an operator: connected, its messages kept as dead
    /// letters (`quarantined`) and not ingested.
    Quarantined(urbanstream_schema::NodeId),
    Anyone,
}

/// Decides who may connect.
pub type Authenticate =
    Arc<dyn Fn(Credentials) -> BoxFuture<'static, Result<Admitted, Refusal>> + Send + Sync>;

/// Lets every client in.
pub fn anyone() -> Authenticate {
    Arc::new(|_| async { Ok(Admitted::Anyone) }.boxed())
}

enum Outgoing {
    Publish(Publish),
    /// The same client id connected again.
    Replaced,
}

/// One connected client.
struct Session {
    conn_id: u64,
    tx: mpsc::Sender<Outgoing>,
    /// The node it was admitted as, if any: only that node's credentials take its client id.
    node: Option<urbanstream_schema::NodeId>,
}

#[derive(Default)]
struct Router {
    next_id: u64,
    /// client id → its session
    sessions: HashMap<String, Session>,
    /// (client id, filter)
    subscriptions: Vec<(String, String)>,
    retained: HashMap<String, Publish>,
    retained_bytes: usize,
}

impl Router {
    fn route(&mut self, p: &Publish, limits: (usize, usize)) {
        if p.retain {
            self.retain(p, limits);
        }
        let mut sent = std::collections::HashSet::new();
        for (client, filter) in &self.subscriptions {
            if sent.contains(client) || !matches(&p.topic, filter) {
                continue;
            }
            if let Some(session) = self.sessions.get(client) {
                let mut out =
                    Publish::from_bytes(p.topic.clone(), QoS::AtMostOnce, p.payload.clone());
                out.retain = false;
                if session.tx.try_send(Outgoing::Publish(out)).is_err() {
                    metrics::counter!(crate::metrics::MQTT_MESSAGES_REJECTED_TOTAL, "reason" => "subscriber_slow").increment(1);
                }
                sent.insert(client.clone());
            }
        }
    }
}

impl Router {
    /// Keeps (or, with an empty payload, forgets) a topic's retained message, within
    /// `(max_retained, max_retained_bytes)`.
    fn retain(&mut self, p: &Publish, (max_count, max_bytes): (usize, usize)) {
        if let Some(old) = self.retained.remove(&p.topic) {
            self.retained_bytes -= old.payload.len();
        }
        if p.payload.is_empty() {
            return;
        }
        if self.retained.len() >= max_count || self.retained_bytes + p.payload.len() > max_bytes {
            metrics::counter!(crate::metrics::MQTT_MESSAGES_REJECTED_TOTAL, "reason" => "retained_full").increment(1);
            tracing::warn!(topic = %p.topic, "retained message not kept: the broker holds its most");
            return;
        }
        let mut kept = p.clone();
        kept.qos = QoS::AtMostOnce;
        kept.pkid = 0;
        self.retained_bytes += kept.payload.len();
        self.retained.insert(p.topic.clone(), kept);
    }
}

/// Whether `admitted` may subscribe to `filter`: a node, only to topics addressed to it
/// (`edge-qi/nodes/{id}/…`, `edge-qi/{kind}/{id}`, no wildcard up to its id).
fn may_subscribe(admitted: &Admitted, filter: &str) -> bool {
    let node = match admitted {
        Admitted::Anyone => return true,
        Admitted::Node(n) | Admitted::Quarantined(n) => n,
    };
    let Some(rest) = filter
        .strip_prefix(PREFIX)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    let wild = |s: &str| s.contains(['+', '#']);
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["nodes", id, ..] => *id == node.as_str(),
        [kind, id] => !wild(kind) && *id == node.as_str(),
        _ => false,
    }
}

/// Binds the listener; the caller reports a port already in use.
pub async fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(listen).await
}

/// Everything connections share.
#[derive(Clone)]
struct Shared {
    settings: BrokerSettings,
    authenticate: Authenticate,
    registry: Recipient<AuthorizeDevice>,
    persist: Recipient<Persist>,
    router: Arc<Mutex<Router>>,
}

/// Accepts connections until the process ends: on `listener`, and over TLS on `tls`'s
/// listener when given (one broker: the same sessions, subscriptions and retained messages).
pub async fn serve(
    listener: TcpListener,
    tls: Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
    settings: BrokerSettings,
    authenticate: Authenticate,
    registry: Recipient<AuthorizeDevice>,
    persist: Recipient<Persist>,
) {
    let shared = Shared {
        settings,
        authenticate,
        registry,
        persist,
        router: Arc::default(),
    };
    if let Some((listener, acceptor)) = tls {
        tokio::spawn(accept(listener, Some(acceptor), shared.clone()));
    }
    accept(listener, None, shared).await;
}

async fn accept(listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>, shared: Shared) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    metrics::gauge!(MQTT_CLIENTS_ACTIVE).increment(1.0);
                    match tls {
                        None => connection(stream, peer, shared).await,
                        Some(acceptor) => {
                            let within = shared.settings.connect_timeout;
                            match tokio::time::timeout(within, acceptor.accept(stream)).await {
                                Ok(Ok(stream)) => connection(stream, peer, shared).await,
                                failed => {
                                    metrics::counter!(crate::metrics::TLS_HANDSHAKE_FAILURES_TOTAL, "listener" => "mqtt").increment(1);
                                    if let Ok(Err(e)) = failed {
                                        tracing::info!(%peer, "MQTT TLS handshake failed: {e}");
                                    }
                                }
                            }
                        }
                    }
                    metrics::gauge!(MQTT_CLIENTS_ACTIVE).decrement(1.0);
                });
            }
            Err(e) => {
                tracing::warn!("MQTT accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// What a connection is waiting on before it acknowledges a message.
enum Due {
    /// A QoS 1 publish: PUBACK, then delivery to subscribers.
    Ack(Publish),
    /// A QoS 2 publish: PUBREC, then delivery; PUBCOMP answers its PUBREL.
    Rec(Publish),
    /// A QoS 0 publish: delivery only.
    Deliver(Publish),
}

async fn connection<S>(stream: S, peer: SocketAddr, shared: Shared)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // Payloads over the limit are read whole and refused (dead-lettered); beyond four times
    // the limit the connection is dropped.
    let hard_cap = shared
        .settings
        .limits
        .max_payload
        .saturating_mul(4)
        .max(64 * 1024);
    let framed = Framed::new(
        stream,
        Codec {
            max_incoming_size: hard_cap,
            max_outgoing_size: hard_cap,
        },
    );
    let (mut sink, mut stream) = framed.split();
    let connect = match tokio::time::timeout(shared.settings.connect_timeout, stream.next()).await {
        Ok(Some(Ok(Packet::Connect(c)))) => c,
        _ => {
            metrics::counter!(MQTT_CONNECTS_REFUSED_TOTAL, "reason" => "no_connect").increment(1);
            return;
        }
    };
    let mut client_id = connect.client_id.clone();
    if client_id.is_empty() {
        if !connect.clean_session {
            let _ = sink
                .send(Packet::ConnAck(ConnAck::new(
                    ConnectReturnCode::BadClientId,
                    false,
                )))
                .await;
            return;
        }
        client_id = format!("anonymous-{peer}");
    }
    let credentials = Credentials {
        client_id: client_id.clone(),
        username: connect.login.as_ref().map(|l| l.username.clone()),
        password: connect.login.as_ref().map(|l| l.password.clone()),
    };
    let admitted = match (shared.authenticate)(credentials).await {
        Ok(a) => a,
        Err(refusal) => {
            metrics::counter!(MQTT_CONNECTS_REFUSED_TOTAL, "reason" => refusal.as_str())
                .increment(1);
            tracing::info!(%peer, client_id, "MQTT connection refused: {}", refusal.as_str());
            let _ = sink
                .send(Packet::ConnAck(ConnAck::new(refusal.code(), false)))
                .await;
            return;
        }
    };
    let (tx, mut outgoing) = mpsc::channel(shared.settings.subscriber_queue.max(1));
    let node = match &admitted {
        Admitted::Node(n) | Admitted::Quarantined(n) => Some(*n),
        Admitted::Anyone => None,
    };
    // A node's client id is taken over only with that node's credentials.
    let conn_id = {
        let Ok(mut r) = shared.router.lock() else {
            return;
        };
        let taken = r
            .sessions
            .get(&client_id)
            .and_then(|s| s.node)
            .is_some_and(|owner| node != Some(owner));
        if taken {
            None
        } else {
            r.next_id += 1;
            let id = r.next_id;
            let session = Session {
                conn_id: id,
                tx,
                node,
            };
            if let Some(old) = r.sessions.insert(client_id.clone(), session) {
                let _ = old.tx.try_send(Outgoing::Replaced);
            }
            // A new session starts without subscriptions (no session is kept).
            r.subscriptions.retain(|(c, _)| c != &client_id);
            Some(id)
        }
    };
    let Some(conn_id) = conn_id else {
        metrics::counter!(MQTT_CONNECTS_REFUSED_TOTAL, "reason" => "client_id_taken").increment(1);
        tracing::warn!(%peer, client_id, "MQTT connection refused: the client id is a connected node's");
        let _ = sink
            .send(Packet::ConnAck(ConnAck::new(
                ConnectReturnCode::NotAuthorized,
                false,
            )))
            .await;
        return;
    };
    if sink
        .send(Packet::ConnAck(ConnAck::new(
            ConnectReturnCode::Success,
            false,
        )))
        .await
        .is_err()
    {
        forget(&shared, &client_id, conn_id);
        return;
    }
    tracing::debug!(%peer, client_id, "MQTT client connected");
    let keep_alive = match connect.keep_alive {
        0 => Duration::from_secs(24 * 3600),
        s => Duration::from_millis(u64::from(s) * 1500),
    };
    let mut ingest = Ingest::new(
        shared.registry.clone(),
        shared.persist.clone(),
        shared.settings.limits,
    );
    let mut due: InOrder<Due> = InOrder::default();
    let window = shared.settings.inflight.max(1);
    let retained_limits = (
        shared.settings.max_retained,
        shared.settings.max_retained_bytes,
    );
    let mut clean = false;
    loop {
        tokio::select! {
            read = tokio::time::timeout(keep_alive, stream.next()), if due.len() < window => {
                let packet = match read {
                    Ok(Some(Ok(p))) => p,
                    Ok(Some(Err(e))) => {
                        tracing::debug!(%peer, client_id, "MQTT protocol error: {e}");
                        metrics::counter!(crate::metrics::MQTT_MESSAGES_REJECTED_TOTAL, "reason" => "protocol").increment(1);
                        break;
                    }
                    Ok(None) => break,
                    Err(_elapsed) => {
                        tracing::debug!(%peer, client_id, "MQTT keep-alive expired");
                        break;
                    }
                };
                match packet {
                    Packet::Publish(p) => {
                        let ready = admit(&mut ingest, &admitted, &p).await;
                        let token = match p.qos {
                            QoS::AtMostOnce => Due::Deliver(p),
                            QoS::AtLeastOnce => Due::Ack(p),
                            QoS::ExactlyOnce => Due::Rec(p),
                        };
                        due.push(token, ready);
                    }
                    Packet::PubRel(r) => {
                        let sent = sink.send(Packet::PubComp(PubComp::new(r.pkid))).await;
                        if sent.is_err() {
                            break;
                        }
                    }
                    Packet::Subscribe(s) => {
                        let mut codes = Vec::with_capacity(s.filters.len());
                        let mut retained = Vec::new();
                        if let Ok(mut r) = shared.router.lock() {
                            for f in &s.filters {
                                if !may_subscribe(&admitted, &f.path) {
                                    metrics::counter!(crate::metrics::MQTT_MESSAGES_REJECTED_TOTAL, "reason" => "subscribe_not_authorized").increment(1);
                                    tracing::info!(%peer, client_id, filter = %f.path, "MQTT subscription refused");
                                    codes.push(SubscribeReasonCode::Failure);
                                } else if valid_filter(&f.path) {
                                    r.subscriptions.retain(|(c, p)| !(c == &client_id && p == &f.path));
                                    r.subscriptions.push((client_id.clone(), f.path.clone()));
                                    codes.push(SubscribeReasonCode::Success(QoS::AtMostOnce));
                                    retained.extend(
                                        r.retained.values().filter(|p| matches(&p.topic, &f.path)).cloned(),
                                    );
                                } else {
                                    codes.push(SubscribeReasonCode::Failure);
                                }
                            }
                        }
                        if sink.send(Packet::SubAck(SubAck::new(s.pkid, codes))).await.is_err() {
                            break;
                        }
                        for mut p in retained {
                            p.retain = true;
                            if sink.send(Packet::Publish(p)).await.is_err() {
                                break;
                            }
                        }
                    }
                    Packet::Unsubscribe(u) => {
                        if let Ok(mut r) = shared.router.lock() {
                            r.subscriptions.retain(|(c, p)| !(c == &client_id && u.topics.contains(p)));
                        }
                        if sink.send(Packet::UnsubAck(UnsubAck::new(u.pkid))).await.is_err() {
                            break;
                        }
                    }
                    Packet::PingReq => {
                        let sent = sink.send(Packet::PingResp).await;
                        if sent.is_err() {
                            break;
                        }
                    }
                    Packet::Disconnect => {
                        clean = true;
                        break;
                    }
                    // Acknowledgements of what we deliver at QoS 0: none expected.
                    _ => {}
                }
            }
            (d, disposition) = due.next() => {
                let (packet, delivered) = match d {
                    Due::Ack(p) => (Some(Packet::PubAck(PubAck::new(p.pkid))), p),
                    Due::Rec(p) => (Some(Packet::PubRec(PubRec::new(p.pkid))), p),
                    Due::Deliver(p) => (None, p),
                };
                if let Some(packet) = packet {
                    if sink.send(packet).await.is_err() {
                        break;
                    }
                }
                // What was refused (a dead letter) reaches no one.
                if disposition == Disposition::Stored {
                    if let Ok(mut r) = shared.router.lock() {
                        r.route(&delivered, retained_limits);
                    }
                }
            }
            out = outgoing.recv() => {
                match out {
                    Some(Outgoing::Publish(p)) => {
                        if sink.send(Packet::Publish(p)).await.is_err() {
                            break;
                        }
                    }
                    Some(Outgoing::Replaced) | None => {
                        tracing::info!(%peer, client_id, "MQTT client replaced by a newer connection");
                        break;
                    }
                }
            }
        }
    }
    forget(&shared, &client_id, conn_id);
    // What was received and not yet acknowledged is still stored; only the PUBACKs are lost
    // with the connection, and the node sends those messages again.
    drop(due);
    if !clean {
        if let Some(will) = connect.last_will {
            let p = Publish::from_bytes(will.topic, will.qos, will.message);
            let mut p = p;
            p.retain = will.retain;
            tracing::debug!(%peer, client_id, topic = %p.topic, "publishing last will");
            if admit(&mut ingest, &admitted, &p).await.await == Disposition::Stored {
                if let Ok(mut r) = shared.router.lock() {
                    r.route(&p, retained_limits);
                }
            }
        }
    }
    tracing::debug!(%peer, client_id, clean, "MQTT client disconnected");
}

/// Hands a publish to ingest, or lets it through at once when it is not an edge node topic.
async fn admit(ingest: &mut Ingest, admitted: &Admitted, p: &Publish) -> AckFuture {
    if !p.topic.starts_with(&format!("{PREFIX}/")) {
        return match admitted {
            Admitted::Anyone => async { Disposition::Stored }.boxed(),
            // A node publishes under the prefix only.
            Admitted::Node(node) | Admitted::Quarantined(node) => {
                let refused = super::payload::Refused::Forbidden {
                    node: *node,
                    topic: p.topic.clone(),
                };
                ingest.dead_letter(&p.topic, &p.payload, refused)
            }
        };
    }
    if let Admitted::Quarantined(node) = admitted {
        let refused = super::payload::Refused::Quarantined(*node);
        return ingest.dead_letter(&p.topic, &p.payload, refused);
    }
    if let Admitted::Node(node) = admitted {
        // A node publishes its own topics only.
        if let Ok((topic_node, _)) = payload::topic(&p.topic) {
            if topic_node != *node {
                let refused = super::payload::Refused::Forbidden {
                    node: *node,
                    topic: p.topic.clone(),
                };
                return ingest.dead_letter(&p.topic, &p.payload, refused);
            }
        }
    }
    ingest.admit(&p.topic, &p.payload).await
}

fn forget(shared: &Shared, client_id: &str, conn_id: u64) {
    if let Ok(mut r) = shared.router.lock() {
        if r.sessions
            .get(client_id)
            .is_some_and(|s| s.conn_id == conn_id)
        {
            r.sessions.remove(client_id);
            r.subscriptions.retain(|(c, _)| c != client_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retained(topic: &str, payload: &str) -> Publish {
        let mut p = Publish::new(topic, QoS::AtLeastOnce, payload.as_bytes().to_vec());
        p.retain = true;
        p
    }

    #[test]
    fn retained_messages_are_bounded_in_number_and_bytes() {
        let mut r = Router::default();
        let limits = (2, 10);
        r.retain(&retained("a", "1234"), limits);
        r.retain(&retained("b", "1234"), limits);
        r.retain(&retained("c", "1"), limits);
        assert_eq!(r.retained.len(), 2, "no third topic");
        // A topic kept already is replaced, within the bytes.
        r.retain(&retained("a", "123456"), limits);
        assert_eq!(r.retained_bytes, 10);
        r.retain(&retained("b", "12345"), limits);
        assert!(!r.retained.contains_key("b"), "over the bytes: not kept");
        // An empty payload forgets the topic and gives its bytes back.
        r.retain(&retained("a", ""), limits);
        assert_eq!((r.retained.len(), r.retained_bytes), (0, 0));
    }

    #[test]
    fn a_node_subscribes_only_to_what_is_addressed_to_it() {
        let me = Admitted::Node("cam-a".parse().unwrap());
        for (filter, ok) in [
            ("edge-qi/nodes/cam-a/#", true),
            ("edge-qi/nodes/cam-a/command", true),
            ("edge-qi/config/cam-a", true),
            ("edge-qi/nodes/+/command", false),
            ("edge-qi/+/cam-a", false),
            ("edge-qi/detection/cam-b", false),
            ("edge-qi/#", false),
            ("#", false),
            ("$SYS/#", false),
        ] {
            assert_eq!(may_subscribe(&me, filter), ok, "{filter}");
        }
        assert!(may_subscribe(&Admitted::Anyone, "#"));
    }
}
