//! A real MQTT client for tests (rumqttc), with a way to wait for each message's PUBACK.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
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
    /// A SUBACK: whether each filter was granted.
    Subscribed(Vec<bool>),
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

impl NodeOptions {
    /// A node's usual last will: `{"node_id", "status": "offline"}` on its status topic.
    pub fn offline_will(node: &str) -> Self {
        let will = serde_json::json!({"node_id": node, "status": "offline"})
            .to_string()
            .into_bytes();
        Self {
            will: Some((format!("edge-qi/nodes/{node}/status"), will)),
            ..Self::default()
        }
    }
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
                    Ok(Event::Incoming(Packet::SubAck(a))) => {
                        let granted = a
                            .return_codes
                            .iter()
                            .map(|c| !matches!(c, rumqttc::SubscribeReasonCode::Failure))
                            .collect();
                        let _ = tx.send(Seen::Subscribed(granted));
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

/// A Mosquitto of our own on a free port, with persistence in `dir`.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mosquitto_bin() -> &'static str {
    if std::path::Path::new("/usr/sbin/mosquitto").exists() {
        "/usr/sbin/mosquitto"
    } else {
        "mosquitto"
    }
}

impl Mosquitto {
    pub fn start(port: u16, dir: std::path::PathBuf) -> Self {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&dir).unwrap();
        // Started as root, Mosquitto drops to its own user, which must write its database.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
                 max_inflight_messages 1000\nmax_queued_messages 100000\n",
                dir.display()
            ),
        )
        .unwrap();
        let child = Command::new(mosquitto_bin())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (scripts/test.sh installs it)");
        let until = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, dir }
    }

    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// Stops it the way a service manager does (SIGTERM: it saves its state) and starts it
    /// again on the same port.
    pub fn restart(mut self) -> Self {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let (port, dir) = (self.port, std::mem::take(&mut self.dir));
        std::mem::forget(self);
        Self::start(port, dir)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
