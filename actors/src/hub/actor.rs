use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use urbanstream_schema::Imei;

use super::messages::{Leave, Push, PushKind, Subscribe, SubscriberId, Unsubscribe};
use super::topic::Topic;
use crate::metrics::*;
use crate::redis_bridge::{PublishToRedis, RemoteKind, RemoteUpdate};
use crate::rules::{AlertChanged, AlertForgotten};
use crate::vehicle::logic::device_time;
use crate::vehicle::TelemetryAccepted;

#[derive(Debug, Clone)]
pub struct HubSettings {
    /// How often coalesced updates are offered again to slow subscribers.
    pub retry_every: Duration,
}

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            retry_every: Duration::from_millis(20),
        }
    }
}

struct Subscriber {
    recipient: Recipient<Push>,
    topics: HashSet<Topic>,
    /// Updates that did not fit the mailbox: the latest per (topic, entity). Bounded by the
    /// number of entities, whatever the rate.
    backlog: HashMap<(Topic, Option<Imei>), Push>,
    /// Events (no entity key) for a slow subscriber, oldest first, at most `MAX_EVENT_BACKLOG`.
    event_backlog: VecDeque<Push>,
}

/// Events kept for one slow subscriber; older ones are dropped and counted.
const MAX_EVENT_BACKLOG: usize = 1024;

/// One per process: routes live updates to subscribers.
pub struct HubActor {
    settings: HubSettings,
    /// Where live updates also go for other nodes, when Redis is configured.
    redis: Option<Recipient<PublishToRedis>>,
    /// This node's rule engine, told of alerts users cleared on other nodes.
    engine: Option<Recipient<AlertForgotten>>,
    subscribers: HashMap<SubscriberId, Subscriber>,
    by_topic: HashMap<Topic, HashSet<SubscriberId>>,
}

impl HubActor {
    pub fn new(settings: HubSettings) -> Self {
        Self {
            settings,
            redis: None,
            engine: None,
            subscribers: HashMap::new(),
            by_topic: HashMap::new(),
        }
    }

    fn publish(&mut self, push: Push) {
        let Some(ids) = self.by_topic.get(&push.topic) else {
            return;
        };
        let mut gone = Vec::new();
        for id in ids {
            let Some(sub) = self.subscribers.get_mut(id) else {
                continue;
            };
            if !sub.backlog.is_empty() || !sub.event_backlog.is_empty() {
                // Keep order per entity: once coalescing, everything for it goes through the backlog.
                coalesce(sub, push.clone());
                continue;
            }
            match sub.recipient.try_send(push.clone()) {
                Ok(()) => metrics::counter!(HUB_PUSHED_TOTAL).increment(1),
                Err(SendError::Full(p)) => coalesce(sub, p),
                Err(SendError::Closed(_)) => gone.push(*id),
            }
        }
        for id in gone {
            self.remove(id);
        }
    }

    fn drain_backlogs(&mut self) {
        let mut gone = Vec::new();
        for (id, sub) in &mut self.subscribers {
            while let Some(push) = sub.event_backlog.pop_front() {
                match sub.recipient.try_send(push) {
                    Ok(()) => metrics::counter!(HUB_PUSHED_TOTAL).increment(1),
                    Err(SendError::Full(p)) => {
                        sub.event_backlog.push_front(p);
                        break;
                    }
                    Err(SendError::Closed(_)) => {
                        gone.push(*id);
                        break;
                    }
                }
            }
            if !sub.event_backlog.is_empty() {
                continue;
            }
            let keys: Vec<_> = sub.backlog.keys().copied().collect();
            for key in keys {
                let Some(push) = sub.backlog.remove(&key) else {
                    continue;
                };
                match sub.recipient.try_send(push) {
                    Ok(()) => metrics::counter!(HUB_PUSHED_TOTAL).increment(1),
                    Err(SendError::Full(p)) => {
                        sub.backlog.insert(key, p);
                        break;
                    }
                    Err(SendError::Closed(_)) => {
                        gone.push(*id);
                        break;
                    }
                }
            }
        }
        for id in gone {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: SubscriberId) {
        if let Some(sub) = self.subscribers.remove(&id) {
            for t in sub.topics {
                if let Some(set) = self.by_topic.get_mut(&t) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.by_topic.remove(&t);
                    }
                }
            }
        }
        metrics::gauge!(HUB_SUBSCRIBERS).set(self.subscribers.len() as f64);
    }
}

fn coalesce(sub: &mut Subscriber, push: Push) {
    if push.entity.is_none() {
        if sub.event_backlog.len() >= MAX_EVENT_BACKLOG {
            sub.event_backlog.pop_front();
            metrics::counter!(HUB_DROPPED_TOTAL).increment(1);
        }
        sub.event_backlog.push_back(push);
        return;
    }
    if sub
        .backlog
        .insert((push.topic, push.entity), push)
        .is_some()
    {
        // An older update for the same entity was replaced: that one is dropped.
        metrics::counter!(HUB_COALESCED_TOTAL).increment(1);
    }
}

impl Actor for HubActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(65_536);
        ctx.run_interval(self.settings.retry_every, |act, _| act.drain_backlogs());
    }
}

impl Supervised for HubActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        metrics::counter!(ACTOR_RESTARTS_TOTAL, "actor" => "hub").increment(1);
    }
}

impl Handler<Subscribe> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Self::Context) {
        let sub = self
            .subscribers
            .entry(msg.id)
            .or_insert_with(|| Subscriber {
                recipient: msg.recipient,
                topics: HashSet::new(),
                backlog: HashMap::new(),
                event_backlog: VecDeque::new(),
            });
        for t in msg.topics {
            sub.topics.insert(t);
            self.by_topic.entry(t).or_default().insert(msg.id);
        }
        metrics::gauge!(HUB_SUBSCRIBERS).set(self.subscribers.len() as f64);
    }
}

impl Handler<Unsubscribe> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _ctx: &mut Self::Context) {
        if let Some(sub) = self.subscribers.get_mut(&msg.id) {
            for t in &msg.topics {
                sub.topics.remove(t);
                sub.backlog.retain(|(topic, _), _| topic != t);
                if let Some(set) = self.by_topic.get_mut(t) {
                    set.remove(&msg.id);
                }
            }
        }
    }
}

impl Handler<Leave> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, _ctx: &mut Self::Context) {
        self.remove(msg.id);
    }
}

/// The live picture of one frame: its newest live record (late records never move it back).
impl Handler<TelemetryAccepted> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: TelemetryAccepted, _ctx: &mut Self::Context) {
        for event in msg.events.iter() {
            let data = serde_json::json!({
                "imei": msg.imei.to_string(),
                "vehicle_id": msg.vehicle_id,
                "event": event,
            });
            self.publish_event(msg.imei, msg.vehicle_id, &data);
            self.to_redis(msg.imei, RemoteKind::Event, None, data);
        }
        let Some(rec) = msg.records.iter().rev().find(|r| !r.late) else {
            return;
        };
        let topics = self.wanted([Topic::Fleet, Topic::Device(msg.imei)], msg.vehicle_id);
        if topics.is_empty() && self.redis.is_none() {
            return;
        }
        let g = &rec.record.gps;
        let data = serde_json::json!({
            "imei": msg.imei.to_string(),
            "vehicle_id": msg.vehicle_id,
            "device_time": device_time(rec.record.timestamp_ms),
            "received_at": rec.received_at,
            "lat": g.latitude_deg(),
            "lon": g.longitude_deg(),
            "altitude": g.altitude,
            "heading": g.angle,
            "satellites": g.satellites,
            "speed_kmh": g.speed,
            "fix": g.valid(),
            "values": crate::teltonika::io_profile::serialize_named(&rec.named, serde_json::value::Serializer)
                .unwrap_or_default(),
        });
        self.publish_telemetry(msg.imei, &topics, &data);
        let position = g.valid().then(|| (g.latitude_deg(), g.longitude_deg()));
        self.to_redis(msg.imei, RemoteKind::Telemetry, position, data);
    }
}

impl HubActor {
    /// The topics, among `base` and the vehicle's, that someone listens to.
    fn wanted<const N: usize>(&self, base: [Topic; N], vehicle: Option<i64>) -> Vec<Topic> {
        base.into_iter()
            .chain(vehicle.map(Topic::Vehicle))
            .filter(|t| self.by_topic.contains_key(t))
            .collect()
    }

    fn to_redis(
        &self,
        imei: Imei,
        kind: RemoteKind,
        position: Option<(f64, f64)>,
        data: serde_json::Value,
    ) {
        let Some(redis) = &self.redis else { return };
        let publish = PublishToRedis {
            imei,
            kind,
            position,
            data: Arc::new(data),
        };
        if redis.try_send(publish).is_err() {
            metrics::counter!(REDIS_DROPPED_TOTAL, "stage" => "from_hub").increment(1);
        }
    }

    fn publish_telemetry(&mut self, imei: Imei, topics: &[Topic], data: &serde_json::Value) {
        for &topic in topics {
            let json = serde_json::json!({ "type": "telemetry", "topic": topic.to_string(), "data": data });
            self.publish(Push {
                topic,
                kind: PushKind::Telemetry,
                entity: Some(imei),
                json: Arc::from(json.to_string()),
            });
        }
    }

    fn publish_event(&mut self, imei: Imei, vehicle: Option<i64>, data: &serde_json::Value) {
        for topic in self.wanted([Topic::Events, Topic::Device(imei)], vehicle) {
            let json =
                serde_json::json!({ "type": "event", "topic": topic.to_string(), "data": data });
            self.publish(Push {
                topic,
                kind: PushKind::Event,
                entity: None,
                json: Arc::from(json.to_string()),
            });
        }
    }
}

impl HubActor {
    fn publish_alert(&mut self, data: &serde_json::Value) {
        if !self.by_topic.contains_key(&Topic::Alerts) {
            return;
        }
        let json = serde_json::json!({ "type": "alert", "topic": "alerts", "data": data });
        self.publish(Push {
            topic: Topic::Alerts,
            kind: PushKind::Event,
            entity: None,
            json: Arc::from(json.to_string()),
        });
    }
}

/// An alert raised, updated, acknowledged or cleared: to `alerts` subscribers here and on
/// the other nodes.
impl Handler<AlertChanged> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: AlertChanged, _ctx: &mut Self::Context) {
        let data = msg.to_json();
        self.publish_alert(&data);
        self.to_redis(msg.imei, RemoteKind::Alert, None, data);
    }
}

/// An event about a device that did not come from its vehicle actor (a command's answer):
/// to `events` and the device's topics, here and on the other nodes.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeviceNotice {
    pub imei: Imei,
    pub vehicle_id: Option<i64>,
    pub event: serde_json::Value,
}

impl Handler<DeviceNotice> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: DeviceNotice, _ctx: &mut Self::Context) {
        let data = serde_json::json!({
            "imei": msg.imei.to_string(),
            "vehicle_id": msg.vehicle_id,
            "event": msg.event,
        });
        self.publish_event(msg.imei, msg.vehicle_id, &data);
        self.to_redis(msg.imei, RemoteKind::Event, None, data);
    }
}

/// Connects the hub to this node's rule engine.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachEngine(pub Recipient<AlertForgotten>);

impl Handler<AttachEngine> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: AttachEngine, _ctx: &mut Self::Context) {
        self.engine = Some(msg.0);
    }
}

/// Connects the hub to the Redis bridge.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachRedis(pub Recipient<PublishToRedis>);

impl Handler<AttachRedis> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: AttachRedis, _ctx: &mut Self::Context) {
        self.redis = Some(msg.0);
    }
}

/// Another node's update: delivered to this node's subscribers only.
impl Handler<RemoteUpdate> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: RemoteUpdate, _ctx: &mut Self::Context) {
        let vehicle = msg.data["vehicle_id"].as_i64();
        match msg.kind {
            RemoteKind::Telemetry => {
                let topics = self.wanted([Topic::Fleet, Topic::Device(msg.imei)], vehicle);
                self.publish_telemetry(msg.imei, &topics, &msg.data);
            }
            RemoteKind::Event => self.publish_event(msg.imei, vehicle, &msg.data),
            RemoteKind::Alert => {
                // Cleared by a user on another node: the engine that owns it lets go.
                let a = &msg.data["alert"];
                if let (Some(engine), "cleared", Some(id), Some(_by)) = (
                    &self.engine,
                    msg.data["action"].as_str().unwrap_or_default(),
                    a["id"].as_str(),
                    a["cleared_by"].as_str(),
                ) {
                    let _ = engine.try_send(AlertForgotten {
                        id: id.to_owned(),
                        at_ms: a["last_ms"].as_i64().unwrap_or_default(),
                    });
                }
                self.publish_alert(&msg.data);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;

    use super::*;
    use crate::teltonika::codec::{AvlRecord, GpsElement, Priority};
    use crate::vehicle::TelemetryRecord;

    /// Records what it receives; the first message makes it stall, like a slow client.
    struct Client {
        stall: Option<Duration>,
        got: Vec<serde_json::Value>,
        capacity: usize,
    }

    impl Actor for Client {
        type Context = Context<Self>;
        fn started(&mut self, ctx: &mut Self::Context) {
            ctx.set_mailbox_capacity(self.capacity);
        }
    }

    impl Handler<Push> for Client {
        type Result = ();
        fn handle(&mut self, msg: Push, ctx: &mut Self::Context) {
            self.got.push(serde_json::from_str(&msg.json).unwrap());
            if let Some(d) = self.stall.take() {
                ctx.wait(actix::fut::wrap_future(tokio::time::sleep(d)));
            }
        }
    }

    #[derive(Message)]
    #[rtype(result = "Vec<serde_json::Value>")]
    struct Got;

    impl Handler<Got> for Client {
        type Result = MessageResult<Got>;
        fn handle(&mut self, _msg: Got, _ctx: &mut Self::Context) -> Self::Result {
            MessageResult(std::mem::take(&mut self.got))
        }
    }

    fn frame(imei: Imei, ts: u64) -> TelemetryAccepted {
        let record = AvlRecord {
            timestamp_ms: ts,
            priority: Priority::Low,
            gps: GpsElement {
                satellites: 5,
                ..Default::default()
            },
            event_io_id: 0,
            generation_type: None,
            io: vec![],
        };
        TelemetryAccepted {
            imei,
            device_id: 1,
            records: Arc::from(vec![TelemetryRecord {
                record,
                named: vec![],
                late: false,
                received_at: Utc::now(),
                fence_limit: None,
            }]),
            events: Arc::from(vec![]),
            vehicle_id: None,
        }
    }

    fn ts_of(v: &serde_json::Value) -> i64 {
        chrono::DateTime::parse_from_rfc3339(v["data"]["device_time"].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    }

    #[actix_rt::test]
    async fn slow_subscribers_get_the_latest_per_entity_and_fast_ones_everything() {
        let hub = HubActor::new(HubSettings {
            retry_every: Duration::from_millis(5),
        })
        .start();
        let slow = Client {
            stall: Some(Duration::from_millis(300)),
            got: vec![],
            capacity: 2,
        }
        .start();
        let fast = Client {
            stall: None,
            got: vec![],
            capacity: 1000,
        }
        .start();
        let a = Imei::from_number(356_307_042_441_013).unwrap();
        let b = Imei::from_number(356_307_042_441_014).unwrap();
        hub.send(Subscribe {
            id: SubscriberId(1),
            topics: vec![Topic::Fleet],
            recipient: slow.clone().recipient(),
        })
        .await
        .unwrap();
        hub.send(Subscribe {
            id: SubscriberId(2),
            topics: vec![Topic::Fleet],
            recipient: fast.clone().recipient(),
        })
        .await
        .unwrap();
        for i in 1..=100u64 {
            hub.send(frame(a, i)).await.unwrap();
            hub.send(frame(b, 1000 + i)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(600)).await;

        let got = fast.send(Got).await.unwrap();
        assert_eq!(got.len(), 200, "a fast subscriber misses nothing");
        let a_ts: Vec<i64> = got
            .iter()
            .filter(|v| v["data"]["imei"] == a.to_string())
            .map(ts_of)
            .collect();
        assert_eq!(a_ts, (1..=100).collect::<Vec<i64>>());

        let got = slow.send(Got).await.unwrap();
        assert!(
            got.len() < 20,
            "a stalled subscriber got coalesced updates, not all 200: {}",
            got.len()
        );
        let last_a = got
            .iter()
            .rev()
            .find(|v| v["data"]["imei"] == a.to_string())
            .map(ts_of);
        let last_b = got
            .iter()
            .rev()
            .find(|v| v["data"]["imei"] == b.to_string())
            .map(ts_of);
        assert_eq!(last_a, Some(100), "the latest state of each entity arrives");
        assert_eq!(last_b, Some(1100));
        for id in [a, b] {
            let ts: Vec<i64> = got
                .iter()
                .filter(|v| v["data"]["imei"] == id.to_string())
                .map(ts_of)
                .collect();
            assert!(
                ts.windows(2).all(|w| w[0] < w[1]),
                "never backwards: {ts:?}"
            );
        }
    }
}
