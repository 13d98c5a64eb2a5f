//! The client of an external broker (Mosquitto, EMQX, …): a persistent session (clean
//! session off, a fixed client id), QoS 1 subscriptions (shared among urbanstream nodes when
//! a group is set), and manual acknowledgement: a PUBACK goes out only once the message's
//! rows are committed. The broker keeps what is not acknowledged and sends it again after a
//! reconnect.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;
use rand::Rng;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;

use super::payload::{Limits, FILTERS};
use super::pipeline::{InOrder, Ingest};
use crate::db_batcher::Persist;
use crate::metrics::{MQTT_CONNECTED, MQTT_CONNECTION_ERRORS_TOTAL};
use crate::registry::AuthorizeDevice;

#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub host: String,
    pub port: u16,
    /// Fixed per urbanstream node, so that the broker keeps its session.
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Subscribe as `$share/{group}/…` so that several urbanstream nodes split the messages.
    pub shared_group: Option<String>,
    pub keep_alive: Duration,
    /// Messages received and not yet acknowledged, at most; beyond, reading pauses.
    pub inflight: usize,
    pub limits: Limits,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// `mqtts://`: TLS to the broker with this configuration (its CA, a client certificate).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Whether the client is connected now (for `/ready` and the system health).
#[derive(Debug, Clone, Default)]
pub struct Connected(Arc<AtomicBool>);

impl Connected {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, up: bool) {
        self.0.store(up, Ordering::Relaxed);
        metrics::gauge!(MQTT_CONNECTED).set(if up { 1.0 } else { 0.0 });
    }
}

/// Runs the client until the process ends: connects, subscribes, takes messages in,
/// acknowledges them after their commit, reconnects with jittered backoff.
pub async fn run(
    settings: ClientSettings,
    registry: Recipient<AuthorizeDevice>,
    persist: Recipient<Persist>,
    connected: Connected,
) {
    let mut options = MqttOptions::new(&settings.client_id, &settings.host, settings.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(settings.keep_alive.max(Duration::from_secs(5)))
        .set_max_packet_size(settings.limits.max_payload + 64 * 1024, 64 * 1024)
        .set_inflight(100);
    if let (Some(u), Some(p)) = (&settings.username, &settings.password) {
        options.set_credentials(u, p);
    }
    if let Some(tls) = &settings.tls {
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls.clone()),
        ));
    }
    // The poll loop waits on `tx` while the acknowledging task may wait on the client's
    // request channel: that channel holds every acknowledgement that can be due meanwhile
    // (the window plus `tx`'s capacity), so neither waits on the other for ever.
    let window = settings.inflight.max(1);
    let (client, mut eventloop) = AsyncClient::new(options, 2 * window + 64);
    // PUBACKs are small packets: without TCP_NODELAY, Nagle's algorithm holds one back until
    // the broker acknowledges the segment before it, and the node waits for it.
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
    let (tx, rx) = mpsc::channel::<Publish>(window);
    let ingest = Ingest::new(registry, persist, settings.limits);
    tokio::spawn(acknowledge(
        client.clone(),
        rx,
        ingest,
        settings.inflight.max(1),
    ));
    poll(settings, client, eventloop, tx, connected).await;
}

/// Drives the connection: every received publish goes to the acknowledging task.
async fn poll(
    settings: ClientSettings,
    client: AsyncClient,
    mut eventloop: EventLoop,
    tx: mpsc::Sender<Publish>,
    connected: Connected,
) {
    let mut backoff = settings.min_backoff;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if tx.send(p).await.is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                connected.set(true);
                backoff = settings.min_backoff;
                tracing::info!(
                    host = %settings.host,
                    port = settings.port,
                    session_present = ack.session_present,
                    "connected to the MQTT broker"
                );
                // Always (re)subscribe: cheap, and it brings the retained births again.
                let filters = FILTERS.iter().map(|f| rumqttc::SubscribeFilter {
                    path: match &settings.shared_group {
                        Some(g) => format!("$share/{g}/{f}"),
                        None => (*f).to_owned(),
                    },
                    qos: QoS::AtLeastOnce,
                });
                if let Err(e) = client.subscribe_many(filters).await {
                    tracing::warn!("MQTT subscribe not sent: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => {
                if connected.get() {
                    tracing::warn!("MQTT connection lost: {e}");
                } else {
                    tracing::debug!("MQTT connection failed: {e}");
                }
                connected.set(false);
                metrics::counter!(MQTT_CONNECTION_ERRORS_TOTAL).increment(1);
                let jitter = rand::rng().random_range(0.5..1.5);
                tokio::time::sleep(backoff.mul_f64(jitter)).await;
                backoff = (backoff * 2).min(settings.max_backoff);
            }
        }
    }
}

/// Takes messages in order, acknowledges each once it is committed (or dead-lettered), in
/// the order received.
async fn acknowledge(
    client: AsyncClient,
    mut rx: mpsc::Receiver<Publish>,
    mut ingest: Ingest,
    window: usize,
) {
    let mut due: InOrder<Publish> = InOrder::default();
    loop {
        tokio::select! {
            p = rx.recv(), if due.len() < window => {
                let Some(p) = p else { return };
                let ready = ingest.admit(&p.topic, &p.payload).await;
                if p.qos == QoS::AtMostOnce {
                    // Nothing to acknowledge; it is still stored.
                    tokio::spawn(ready);
                } else {
                    due.push(p, ready);
                }
            }
            (p, _) = due.next() => {
                if let Err(e) = client.ack(&p).await {
                    tracing::debug!("PUBACK not sent: {e}");
                }
            }
        }
    }
}
