//! A real MQTT client for tests (rumqttc), with a way to wait for each message's PUBACK.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, ConnectionError, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::mpsc;

use super::WAIT;

/// What the client's event loop saw.
#[derive(Debug)]
pub enum Seen {
    Published(u16),
    Acked(u16),
    Message(String, Vec<u8>),
    Failed(String),
}

pub struct MqttNode {
    pub client: AsyncClient,
    events: mpsc::UnboundedReceiver<Seen>,
    task: tokio::task::JoinHandle<()>,
}

/// How a node connects.
#[derive(Default, Clone)]
pub struct NodeOptions {
    pub credentials: Option<(String, String)>,
    pub will: Option<(String, Vec<u8>)>,
    /// Keep the session (and resend what was not acknowledged) across reconnects.
    pub persistent: bool,
    /// Reconnect after a drop (the event loop keeps polling).
    pub reconnect: bool,
}

impl MqttNode {
    /// Connects; `Err` with the broker's refusal when it refuses.
    pub async fn connect(addr: SocketAddr, id: &str, o: NodeOptions) -> Result<Self, String> {
        let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_session(!o.persistent)
            .set_max_packet_size(1 << 20, 1 << 20);
        if let Some((u, p)) = &o.credentials {
            options.set_credentials(u, p);
        }
        if let Some((topic, payload)) = &o.will {
            options.set_last_will(LastWill::new(
                topic,
                payload.clone(),
                QoS::AtLeastOnce,
                false,
            ));
        }
        let (client, mut eventloop) = AsyncClient::new(options, 10_000);
        let (tx, events) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let reconnect = o.reconnect;
        let task = tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(Ok(()));
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        let _ = tx.send(Seen::Published(pkid));
                    }
                    Ok(Event::Incoming(Packet::PubAck(a))) => {
                        let _ = tx.send(Seen::Acked(a.pkid));
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(Seen::Message(p.topic.clone(), p.payload.to_vec()));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let refused = matches!(e, ConnectionError::ConnectionRefused(_));
                        if let Some(r) = ready.take() {
                            let _ = r.send(Err(e.to_string()));
                            return;
                        }
                        let _ = tx.send(Seen::Failed(e.to_string()));
                        if refused || !reconnect {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        match tokio::time::timeout(WAIT, ready_rx).await {
            Ok(Ok(Ok(()))) => Ok(Self {
                client,
                events,
                task,
            }),
            Ok(Ok(Err(e))) => Err(e),
            _ => Err("no CONNACK in time".into()),
        }
    }

    /// Publishes at QoS 1 and waits for its PUBACK; returns how long that took.
    pub async fn publish_acked(&mut self, topic: &str, payload: impl Into<Vec<u8>>) -> Duration {
        self.publish_acked_retain(topic, payload, false).await
    }

    pub async fn publish_acked_retain(
        &mut self,
        topic: &str,
        payload: impl Into<Vec<u8>>,
        retain: bool,
    ) -> Duration {
        let started = Instant::now();
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
            .unwrap();
        let pkid = loop {
            match self.next(WAIT).await {
                Some(Seen::Published(p)) => break p,
                Some(_) => {}
                None => panic!("{topic}: not published in time"),
            }
        };
        loop {
            match self.next(WAIT).await {
                Some(Seen::Acked(p)) if p == pkid => return started.elapsed(),
                Some(_) => {}
                None => panic!("{topic}: no PUBACK in time"),
            }
        }
    }

    /// The next event within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Seen> {
        tokio::time::timeout(wait, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// Drops the connection without DISCONNECT (the broker publishes the last will).
    pub fn vanish(self) {
        self.task.abort();
    }
}
