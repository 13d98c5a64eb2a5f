use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use urbanstream_schema::VehicleId;

use super::messages::{
    AttachEngine, AttachRedis, BBox, Broadcast, Leave, Push, PushKind, SetViewport, Subscribe,
    SubscriberId, Unsubscribe,
};
use super::topic::Topic;
use crate::entity::{Accepted, EntityEvent, EntityKey, EntityKind, EntityUpdate, Observation};
use crate::metrics::*;
use crate::redis_bridge::{Presence, PublishToRedis, RemoteKind, RemoteUpdate};
use crate::rules::{AlertChanged, AlertForgotten};

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
    backlog: HashMap<(Topic, Option<EntityKey>), Push>,
    /// Events (no entity key) for a slow subscriber, oldest first, at most `MAX_EVENT_BACKLOG`.
    event_backlog: VecDeque<Push>,
    /// `fleet` updates only for vehicles in this area, when set.
    viewport: Option<BBox>,
}

/// Events kept for one slow subscriber; older ones are dropped and counted.
const MAX_EVENT_BACKLOG: usize = 1024;

/// The subscriber's mailbox is closed: it left.
struct Gone;

impl Subscriber {
    fn new(recipient: Recipient<Push>) -> Self {
        Self {
            recipient,
            topics: HashSet::new(),
            backlog: HashMap::new(),
            event_backlog: VecDeque::new(),
            viewport: None,
        }
    }

    /// Whether this subscriber wants `push`, given its viewport: updates of vehicles in the
    /// area, and the first one after a vehicle has left it.
    fn wants(&self, push: &Push) -> bool {
        let (Some(area), Topic::Fleet, Some(at)) = (self.viewport, push.topic, push.position)
        else {
            return true;
        };
        area.contains(at) || push.from.is_some_and(|p| area.contains(p))
    }

    fn is_behind(&self) -> bool {
        !self.backlog.is_empty() || !self.event_backlog.is_empty()
    }

    /// Offers what waits for this subscriber, events first, until its mailbox is full.
    fn drain(&mut self) -> Result<(), Gone> {
        if !self.is_behind() {
            return Ok(());
        }
        while let Some(push) = self.event_backlog.pop_front() {
            match self.recipient.try_send(push) {
                Ok(()) => metrics::counter!(HUB_PUSHED_TOTAL).increment(1),
                Err(SendError::Full(p)) => {
                    self.event_backlog.push_front(p);
                    return Ok(());
                }
                Err(SendError::Closed(_)) => return Err(Gone),
            }
        }
        // One key at a time: a full mailbox ends this after one try, however long the backlog.
        while let Some(key) = self.backlog.keys().next().copied() {
            let Some(push) = self.backlog.remove(&key) else {
                break;
            };
            match self.recipient.try_send(push) {
                Ok(()) => metrics::counter!(HUB_PUSHED_TOTAL).increment(1),
                Err(SendError::Full(p)) => {
                    self.backlog.insert(key, p);
                    return Ok(());
                }
                Err(SendError::Closed(_)) => return Err(Gone),
            }
        }
        Ok(())
    }
}

/// One per process: routes live updates to subscribers.
pub struct HubActor {
    settings: HubSettings,
    /// Where live updates also go for other nodes, when Redis is configured.
    redis: Option<Recipient<PublishToRedis>>,
    /// This node's rule engine, told of alerts users cleared on other nodes.
    engine: Option<Recipient<AlertForgotten>>,
    subscribers: HashMap<SubscriberId, Subscriber>,
    by_topic: HashMap<Topic, HashSet<SubscriberId>>,
    /// Each vehicle's last published position, for viewports it leaves.
    positions: HashMap<EntityKey, (f64, f64)>,
    /// Which `fleet` subscribers' areas cover each cell of the map; rebuilt after a change.
    areas: Option<AreaIndex>,
}

/// Side of a cell of the area index, in degrees (about 1.1 km of latitude).
const CELL_DEG: f64 = 0.01;
/// An area over more cells than this is checked with every update instead of indexed.
const MAX_CELLS: i64 = 4096;

fn cell((lat, lon): (f64, f64)) -> (i32, i32) {
    (
        (lat / CELL_DEG).floor() as i32,
        (lon / CELL_DEG).floor() as i32,
    )
}

/// The `fleet` subscribers by the cells their areas cover, so that an update with a position
/// is offered to those that can want it, not to every subscriber of the city: with a
/// thousand dashboards each zoomed on a district, that scan was the hub's whole time.
#[derive(Default)]
struct AreaIndex {
    /// Subscribers without an area, or with one too large (or across the antimeridian) to index.
    open: Vec<SubscriberId>,
    cells: HashMap<(i32, i32), Vec<SubscriberId>>,
}

impl AreaIndex {
    fn build<'a>(fleet: impl Iterator<Item = (SubscriberId, Option<BBox>)> + 'a) -> Self {
        let mut index = Self::default();
        for (id, area) in fleet {
            let Some(a) = area.filter(|a| a.west <= a.east) else {
                index.open.push(id);
                continue;
            };
            let (s, w) = cell((a.south, a.west));
            let (n, e) = cell((a.north, a.east));
            if (i64::from(n - s) + 1) * (i64::from(e - w) + 1) > MAX_CELLS {
                index.open.push(id);
                continue;
            }
            for la in s..=n {
                for lo in w..=e {
                    index.cells.entry((la, lo)).or_default().push(id);
                }
            }
        }
        index
    }

    /// Those that may want an update at `at` that came `from` there.
    fn candidates(&self, at: (f64, f64), from: Option<(f64, f64)>) -> Vec<SubscriberId> {
        let mut out = self.open.clone();
        let here = cell(at);
        out.extend(self.cells.get(&here).into_iter().flatten().copied());
        if let Some(before) = from.map(cell).filter(|c| *c != here) {
            let extra = self.cells.get(&before).into_iter().flatten().copied();
            out.extend(extra);
            out.sort_unstable_by_key(|id| id.0);
            out.dedup();
        }
        out
    }
}

impl HubActor {
    pub fn new(settings: HubSettings) -> Self {
        Self {
            settings,
            redis: None,
            engine: None,
            subscribers: HashMap::new(),
            by_topic: HashMap::new(),
            positions: HashMap::new(),
            areas: None,
        }
    }

    fn publish(&mut self, push: Push) {
        let Some(ids) = self.by_topic.get(&push.topic) else {
            return;
        };
        let mut gone = Vec::new();
        match (push.topic, push.position) {
            (Topic::Fleet, Some(at)) => {
                let subscribers = &self.subscribers;
                let areas = self.areas.get_or_insert_with(|| {
                    AreaIndex::build(
                        ids.iter()
                            .filter_map(|id| subscribers.get(id).map(|s| (*id, s.viewport))),
                    )
                });
                for id in areas.candidates(at, push.from) {
                    offer(&mut self.subscribers, id, &push, &mut gone);
                }
            }
            _ => {
                for id in ids {
                    offer(&mut self.subscribers, *id, &push, &mut gone);
                }
            }
        }
        for id in gone {
            self.remove(id);
        }
    }

    fn drain_backlogs(&mut self) {
        let gone: Vec<SubscriberId> = self
            .subscribers
            .iter_mut()
            .filter_map(|(id, sub)| sub.drain().is_err().then_some(*id))
            .collect();
        for id in gone {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: SubscriberId) {
        if let Some(sub) = self.subscribers.remove(&id) {
            if sub.topics.contains(&Topic::Fleet) {
                self.areas = None;
            }
            for t in sub.topics {
                if let Some(set) = self.by_topic.get_mut(&t) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.by_topic.remove(&t);
                    }
                }
            }
        }
        self.subscribers.shrink_if_sparse();
        self.by_topic.shrink_if_sparse();
        metrics::gauge!(HUB_SUBSCRIBERS).set(self.subscribers.len() as f64);
        metrics::gauge!(HUB_TOPICS).set(self.by_topic.len() as f64);
    }
}

/// Gives a table's memory back once it holds under a quarter of what it has room for: the
/// topics of one client come and go (a map panned across a city), and a table that kept its
/// largest size for good would grow the server with every client that ever subscribed much.
trait ShrinkIfSparse {
    fn shrink_if_sparse(&mut self);
}

impl<T: Eq + std::hash::Hash> ShrinkIfSparse for HashSet<T> {
    fn shrink_if_sparse(&mut self) {
        if self.capacity() > 64 && self.len() < self.capacity() / 4 {
            self.shrink_to(self.len() * 2);
        }
    }
}

impl<K: Eq + std::hash::Hash, V> ShrinkIfSparse for HashMap<K, V> {
    fn shrink_if_sparse(&mut self) {
        if self.capacity() > 64 && self.len() < self.capacity() / 4 {
            self.shrink_to(self.len() * 2);
        }
    }
}

/// Offers `push` to one subscriber, if it wants it; notes it in `gone` if it left.
fn offer(
    subscribers: &mut HashMap<SubscriberId, Subscriber>,
    id: SubscriberId,
    push: &Push,
    gone: &mut Vec<SubscriberId>,
) {
    let Some(sub) = subscribers.get_mut(&id) else {
        return;
    };
    if !sub.wants(push) {
        return;
    }
    // A subscriber behind gets what waits for it first, as far as its mailbox has room now:
    // its pace, not the retry timer's, sets how fast it catches up.
    if sub.drain().is_err() {
        gone.push(id);
        return;
    }
    if sub.is_behind() {
        // Keep order per entity: once coalescing, everything for it goes through the backlog.
        coalesce(sub, push.clone());
        return;
    }
    match sub.recipient.try_send(push.clone()) {
        Ok(()) => metrics::counter!(HUB_PUSHED_TOTAL).increment(1),
        Err(SendError::Full(p)) => coalesce(sub, p),
        Err(SendError::Closed(_)) => gone.push(id),
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
            .or_insert_with(|| Subscriber::new(msg.recipient));
        for t in msg.topics {
            if t == Topic::Fleet {
                self.areas = None;
            }
            sub.topics.insert(t);
            self.by_topic.entry(t).or_default().insert(msg.id);
        }
        metrics::gauge!(HUB_SUBSCRIBERS).set(self.subscribers.len() as f64);
        metrics::gauge!(HUB_TOPICS).set(self.by_topic.len() as f64);
    }
}

impl Handler<Unsubscribe> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _ctx: &mut Self::Context) {
        if let Some(sub) = self.subscribers.get_mut(&msg.id) {
            for t in &msg.topics {
                if *t == Topic::Fleet {
                    self.areas = None;
                }
                sub.topics.remove(t);
                sub.backlog.retain(|(topic, _), _| topic != t);
                if let Some(set) = self.by_topic.get_mut(t) {
                    set.remove(&msg.id);
                    // A topic nobody holds leaves the hub.
                    if set.is_empty() {
                        self.by_topic.remove(t);
                    }
                }
            }
            sub.topics.shrink_if_sparse();
        }
        self.by_topic.shrink_if_sparse();
        metrics::gauge!(HUB_TOPICS).set(self.by_topic.len() as f64);
    }
}

impl Handler<SetViewport> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: SetViewport, _ctx: &mut Self::Context) {
        if let Some(sub) = self.subscribers.get_mut(&msg.id) {
            sub.viewport = msg.area;
            self.areas = None;
            // What waits for it from before may lie outside the new area: the next update
            // of each vehicle decides.
            sub.backlog.retain(|(topic, _), _| *topic != Topic::Fleet);
        }
    }
}

impl Handler<Leave> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, _ctx: &mut Self::Context) {
        self.remove(msg.id);
    }
}

impl Handler<Broadcast> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: Broadcast, _ctx: &mut Self::Context) {
        if !self.by_topic.contains_key(&msg.topic) {
            return;
        }
        let json = serde_json::json!({
            "type": msg.kind,
            "topic": msg.topic.to_string(),
            "data": &*msg.data,
        });
        self.publish(Push {
            topic: msg.topic,
            kind: PushKind::Event,
            entity: None,
            position: None,
            from: None,
            json: Arc::from(json.to_string()),
        });
    }
}

/// The live picture of one frame: its newest live reading (late ones never move it back),
/// and its events.
impl Handler<EntityUpdate> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: EntityUpdate, _ctx: &mut Self::Context) {
        for event in msg.events.iter() {
            let mut data = identity(msg.key, msg.vehicle_id);
            data.insert(
                "event".into(),
                serde_json::to_value(event).unwrap_or_default(),
            );
            let data = serde_json::Value::Object(data);
            self.publish_event(
                msg.key,
                msg.vehicle_id,
                Topic::of_event(event.kind()),
                &data,
            );
            let presence = match event {
                EntityEvent::WentOnline { .. } => Some(Presence::Online),
                EntityEvent::WentOffline { .. } => Some(Presence::Offline),
                _ => None,
            };
            self.to_redis(msg.key, RemoteKind::Event, None, presence, data);
        }
        if let Some(state) = &msg.state {
            self.publish_state(msg.key, state);
        }
        if msg.key.kind() != EntityKind::Tracker {
            self.publish_observations(msg.key, &msg.readings);
            return;
        }
        let Some(rec) = msg.latest_live() else {
            return;
        };
        let position = rec.reading.fix.and_then(|f| f.position());
        let from = self.moved(msg.key, position);
        let topics = self.wanted([Topic::Fleet, Topic::of(msg.key)], msg.vehicle_id);
        if topics.is_empty() && self.redis.is_none() {
            return;
        }
        let data = telemetry_json(msg.key, msg.vehicle_id, rec);
        self.publish_telemetry(msg.key, &topics, position, from, &data);
        self.to_redis(msg.key, RemoteKind::Telemetry, position, None, data);
    }
}

/// `{"imei": …, "vehicle_id": …}`: whom an update is about.
fn identity(
    key: EntityKey,
    vehicle: Option<VehicleId>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert(key.field().into(), key.to_string().into());
    m.insert(
        "vehicle_id".into(),
        serde_json::to_value(vehicle).unwrap_or_default(),
    );
    m
}

/// A live update as subscribers receive it: who, when, where (with a fix) and the facts.
fn telemetry_json(key: EntityKey, vehicle: Option<VehicleId>, rec: &Accepted) -> serde_json::Value {
    let r = &rec.reading;
    let mut m = identity(key, vehicle);
    let mut put = |k: &str, v: serde_json::Value| {
        m.insert(k.into(), v);
    };
    put(
        "device_time",
        serde_json::to_value(r.at()).unwrap_or_default(),
    );
    put(
        "received_at",
        serde_json::to_value(rec.received_at).unwrap_or_default(),
    );
    if let Some(f) = r.fix {
        put("lat", f.lat.into());
        put("lon", f.lon.into());
        put("altitude", f.altitude.into());
        put("heading", f.heading.into());
        put("satellites", f.satellites.into());
        put("speed_kmh", f.speed_kmh.into());
        put("fix", f.valid.into());
    }
    put("values", serde_json::to_value(&r.facts).unwrap_or_default());
    serde_json::Value::Object(m)
}

impl HubActor {
    /// The topics, among `base` and the vehicle's, that someone listens to.
    fn wanted<const N: usize>(&self, base: [Topic; N], vehicle: Option<VehicleId>) -> Vec<Topic> {
        base.into_iter()
            .chain(vehicle.map(|v| Topic::Vehicle(v.0)))
            .filter(|t| self.by_topic.contains_key(t))
            .collect()
    }

    fn to_redis(
        &self,
        key: EntityKey,
        kind: RemoteKind,
        position: Option<(f64, f64)>,
        presence: Option<Presence>,
        data: serde_json::Value,
    ) {
        let Some(redis) = &self.redis else { return };
        let publish = PublishToRedis {
            key,
            kind,
            position,
            presence,
            data: Arc::new(data),
        };
        if redis.try_send(publish).is_err() {
            metrics::counter!(REDIS_DROPPED_TOTAL, "stage" => "from_hub").increment(1);
        }
    }

    /// Records where `key` is now; where it was before.
    fn moved(&mut self, key: EntityKey, position: Option<(f64, f64)>) -> Option<(f64, f64)> {
        match position {
            Some(p) => self.positions.insert(key, p),
            None => self.positions.get(&key).copied(),
        }
    }

    fn publish_telemetry(
        &mut self,
        key: EntityKey,
        topics: &[Topic],
        position: Option<(f64, f64)>,
        from: Option<(f64, f64)>,
        data: &serde_json::Value,
    ) {
        for &topic in topics {
            let json = serde_json::json!({ "type": "telemetry", "topic": topic.to_string(), "data": data });
            self.publish(Push {
                topic,
                kind: PushKind::Telemetry,
                entity: Some(key),
                position,
                from,
                json: Arc::from(json.to_string()),
            });
        }
    }

    fn publish_event(
        &mut self,
        key: EntityKey,
        vehicle: Option<VehicleId>,
        own: Option<Topic>,
        data: &serde_json::Value,
    ) {
        let mut topics = self.wanted([Topic::Events, Topic::of(key)], vehicle);
        topics.extend(own.filter(|t| self.by_topic.contains_key(t)));
        for topic in topics {
            let json =
                serde_json::json!({ "type": "event", "topic": topic.to_string(), "data": data });
            self.publish(Push {
                topic,
                kind: PushKind::Event,
                entity: None,
                position: None,
                from: None,
                json: Arc::from(json.to_string()),
            });
        }
    }

    /// An entity's whole state, to its kind's topic and its own (`edge_node_update`).
    fn publish_state(&mut self, key: EntityKey, state: &bytes::Bytes) {
        let kind = match key.kind() {
            EntityKind::Tracker => "vehicle_update",
            EntityKind::EdgeNode => "edge_node_update",
            EntityKind::Robot => "robot_update",
        };
        let data = String::from_utf8_lossy(state);
        for topic in self.wanted([Topic::all_of(key), Topic::of(key)], None) {
            let json = format!(
                r#"{{"type":"{kind}","topic":{},"data":{data}}}"#,
                serde_json::Value::from(topic.to_string())
            );
            self.publish(Push {
                topic,
                kind: PushKind::Status,
                entity: Some(key),
                position: None,
                from: None,
                json: Arc::from(json),
            });
        }
    }

    /// What readings observed (detections) to their topics, one push per message.
    fn publish_observations(&mut self, key: EntityKey, readings: &[Accepted]) {
        let EntityKey::EdgeNode(node) = key else {
            return;
        };
        let topics = self.wanted([Topic::Detections, Topic::NodeDetections(node)], None);
        if topics.is_empty() {
            return;
        }
        for rec in readings {
            for o in &rec.reading.observations {
                let Observation::Detections { detections } = o else {
                    continue;
                };
                let data = serde_json::json!({
                    "node_id": node,
                    "timestamp": rec.reading.at(),
                    "received_at": rec.received_at,
                    "seq": rec.reading.sequence.map(|q| q.seq),
                    "detections": detections,
                });
                for &topic in &topics {
                    let json = serde_json::json!({
                        "type": "detection_result",
                        "topic": topic.to_string(),
                        "data": data,
                    });
                    self.publish(Push {
                        topic,
                        kind: PushKind::Event,
                        entity: None,
                        position: None,
                        from: None,
                        json: Arc::from(json.to_string()),
                    });
                }
            }
        }
    }

    fn publish_alert(&mut self, data: &serde_json::Value) {
        if !self.by_topic.contains_key(&Topic::Alerts) {
            return;
        }
        let json = serde_json::json!({ "type": "alert", "topic": "alerts", "data": data });
        self.publish(Push {
            topic: Topic::Alerts,
            kind: PushKind::Event,
            entity: None,
            position: None,
            from: None,
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
        self.to_redis(msg.key, RemoteKind::Alert, None, None, data);
    }
}

impl Handler<AttachEngine> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: AttachEngine, _ctx: &mut Self::Context) {
        self.engine = Some(msg.0);
    }
}

impl Handler<AttachRedis> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: AttachRedis, _ctx: &mut Self::Context) {
        self.redis = Some(msg.0);
    }
}

/// Another node's update, decoded by the bridge: delivered to this node's subscribers only.
impl Handler<RemoteUpdate> for HubActor {
    type Result = ();

    fn handle(&mut self, msg: RemoteUpdate, _ctx: &mut Self::Context) {
        match msg.kind {
            RemoteKind::Telemetry => {
                let topics = self.wanted([Topic::Fleet, Topic::of(msg.key)], msg.vehicle_id);
                // The published frame carries where the vehicle is: viewports apply to it too.
                let position = msg
                    .data
                    .get("lat")
                    .and_then(serde_json::Value::as_f64)
                    .zip(msg.data.get("lon").and_then(serde_json::Value::as_f64));
                let from = self.moved(msg.key, position);
                self.publish_telemetry(msg.key, &topics, position, from, &msg.data);
            }
            RemoteKind::Event => {
                let own = msg
                    .data
                    .pointer("/event/kind")
                    .and_then(serde_json::Value::as_str)
                    .and_then(Topic::of_event);
                self.publish_event(msg.key, msg.vehicle_id, own, &msg.data);
            }
            RemoteKind::Alert => {
                // Cleared by a user on another node: the engine that owns it lets go.
                if let (Some(engine), Some(forgotten)) = (&self.engine, msg.cleared_by_user) {
                    let _ = engine.try_send(forgotten);
                }
                self.publish_alert(&msg.data);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_area_index_offers_an_update_to_the_areas_around_it_and_the_open_ones() {
        let area = |w, s, e, n| Some(BBox::new(w, s, e, n).unwrap());
        let id = SubscriberId;
        let index = AreaIndex::build(
            [
                (id(1), None),
                // Around the centre, across a cell's edge (17.19 and 17.20 are two cells).
                (id(2), area(17.185, 44.770, 17.205, 44.775)),
                (id(3), area(170.0, -10.0, -170.0, 10.0)),
                (id(4), area(-180.0, -90.0, 180.0, 90.0)),
                (id(5), area(18.0, 45.0, 18.01, 45.01)),
            ]
            .into_iter(),
        );
        let mut got = index.candidates((44.772, 17.191), None);
        got.sort_unstable_by_key(|i| i.0);
        assert_eq!(got, vec![id(1), id(2), id(3), id(4)]);
        let mut other_cell = index.candidates((44.772, 17.203), None);
        other_cell.sort_unstable_by_key(|i| i.0);
        assert_eq!(other_cell, vec![id(1), id(2), id(3), id(4)]);
        // Far away: the open ones; having come from inside an area: that one too, once.
        let mut far = index.candidates((44.9, 17.5), None);
        far.sort_unstable_by_key(|i| i.0);
        assert_eq!(far, vec![id(1), id(3), id(4)]);
        let left = index.candidates((44.9, 17.5), Some((44.772, 17.191)));
        assert_eq!(left, vec![id(1), id(2), id(3), id(4)]);
        assert_eq!(
            index.candidates((45.005, 18.005), Some((45.005, 18.005))),
            vec![id(1), id(3), id(4), id(5)]
        );
    }

    use std::time::Duration;

    use chrono::Utc;

    use urbanstream_schema::{DeviceId, Imei};

    use super::*;
    use crate::entity::{Facts, Fix, Reading};

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

    fn frame(imei: Imei, ts: i64) -> EntityUpdate {
        frame_at(imei, ts, (0.0, 0.0))
    }

    fn frame_at(imei: Imei, ts: i64, (lat, lon): (f64, f64)) -> EntityUpdate {
        let reading = Reading {
            at_ms: ts,
            fix: Some(Fix {
                lat,
                lon,
                altitude: 0,
                heading: 0,
                satellites: 5,
                speed_kmh: 0,
                valid: true,
            }),
            facts: Facts::default(),
            raw: String::new(),
            sequence: None,
            observations: Vec::new(),
        };
        EntityUpdate {
            key: EntityKey::Tracker(imei),
            device_id: DeviceId(1),
            readings: Arc::from(vec![Accepted {
                reading,
                late: false,
                received_at: Utc::now(),
                fence_limit: None,
            }]),
            events: Arc::from(vec![]),
            vehicle_id: None,
            state: None,
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
        for i in 1..=100i64 {
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

    #[test]
    fn areas_check_their_edges_and_may_cross_the_antimeridian() {
        assert!(BBox::new(17.0, 44.0, 18.0, 45.0).is_ok());
        assert!(
            BBox::new(17.0, 45.0, 18.0, 44.0).is_err(),
            "south above north"
        );
        assert!(BBox::new(17.0, 44.0, 181.0, 45.0).is_err());
        assert!(BBox::new(f64::NAN, 44.0, 18.0, 45.0).is_err());
        let city = BBox::new(17.0, 44.0, 18.0, 45.0).unwrap();
        assert!(city.contains((44.77, 17.19)));
        assert!(!city.contains((44.77, 18.5)));
        assert!(!city.contains((43.9, 17.5)));
        let pacific = BBox::new(170.0, -20.0, -170.0, 0.0).unwrap();
        assert!(pacific.contains((-10.0, 179.0)));
        assert!(pacific.contains((-10.0, -175.0)));
        assert!(!pacific.contains((-10.0, 0.0)));
    }

    #[actix_rt::test]
    async fn a_viewport_receives_its_area_and_sees_a_vehicle_leave_once() {
        let hub = HubActor::new(HubSettings::default()).start();
        let client = Client {
            stall: None,
            got: vec![],
            capacity: 1000,
        }
        .start();
        let (a, b) = (
            Imei::from_number(356_307_042_441_013).unwrap(),
            Imei::from_number(356_307_042_441_014).unwrap(),
        );
        hub.send(Subscribe {
            id: SubscriberId(1),
            topics: vec![Topic::Fleet],
            recipient: client.clone().recipient(),
        })
        .await
        .unwrap();
        hub.send(SetViewport {
            id: SubscriberId(1),
            area: Some(BBox::new(17.1, 44.7, 17.3, 44.8).unwrap()),
        })
        .await
        .unwrap();
        let (inside, outside) = ((44.77, 17.19), (44.77, 17.5));
        hub.send(frame_at(a, 1, inside)).await.unwrap();
        hub.send(frame_at(b, 2, outside)).await.unwrap();
        hub.send(frame_at(a, 3, outside)).await.unwrap(); // leaves: one last update
        hub.send(frame_at(a, 4, outside)).await.unwrap();
        hub.send(frame_at(b, 5, inside)).await.unwrap(); // enters
                                                         // Without a viewport, everything again.
        hub.send(SetViewport {
            id: SubscriberId(1),
            area: None,
        })
        .await
        .unwrap();
        hub.send(frame_at(a, 6, outside)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let got: Vec<i64> = client.send(Got).await.unwrap().iter().map(ts_of).collect();
        assert_eq!(got, vec![1, 3, 5, 6]);
    }

    #[actix_rt::test]
    async fn a_subscriber_behind_catches_up_on_the_next_publish_not_the_timer() {
        // The retry timer never fires within the test: only publishes drain the backlog.
        let hub = HubActor::new(HubSettings {
            retry_every: Duration::from_secs(3600),
        })
        .start();
        let client = Client {
            stall: Some(Duration::from_millis(50)),
            got: vec![],
            capacity: 2,
        }
        .start();
        let a = Imei::from_number(356_307_042_441_013).unwrap();
        let b = Imei::from_number(356_307_042_441_014).unwrap();
        hub.send(Subscribe {
            id: SubscriberId(1),
            topics: vec![Topic::Fleet],
            recipient: client.clone().recipient(),
        })
        .await
        .unwrap();
        for i in 1..=10i64 {
            hub.send(frame(a, i)).await.unwrap();
        }
        // The client stalled on the first: the rest went to its backlog.
        tokio::time::sleep(Duration::from_millis(150)).await;
        hub.send(frame(b, 1001)).await.unwrap();
        hub.send(frame(a, 11)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let got = client.send(Got).await.unwrap();
        let ts: Vec<i64> = got.iter().map(ts_of).collect();
        assert!(
            ts.contains(&10),
            "the backlog (latest of a) was delivered: {ts:?}"
        );
        assert!(
            ts.contains(&1001) && ts.contains(&11),
            "and what came after: {ts:?}"
        );
        let a_ts: Vec<i64> = got
            .iter()
            .filter(|v| v["data"]["imei"] == a.to_string())
            .map(ts_of)
            .collect();
        assert!(a_ts.windows(2).all(|w| w[0] < w[1]), "in order: {a_ts:?}");
    }
}
