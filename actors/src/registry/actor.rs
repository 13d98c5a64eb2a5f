use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use urbanstream_schema::store::{DbError, Store};
use urbanstream_schema::{DeviceId, Imei, VehicleId};

use super::directory::Directory;
use super::messages::{
    AuthorizeDevice, CloseConnection, CloseReason, ConnectionEnded, ConnectionHandle,
    DeviceAssigned, DeviceGrant, DeviceRemoved, DeviceUpserted, LoginRefused, Shutdown,
    WatchConnections,
};
use crate::arbiters::ArbiterPool;
use crate::commands::{CommandTarget, DeviceConnected, DeviceDisconnected};
use crate::entity::{Control, DeviceRecord, EntityFactory, EntityHandle, EntityKey, EntityKind};
use crate::metrics::{
    ACTOR_RESTARTS_TOTAL, REGISTRY_DEVICES_REGISTERED_TOTAL, REGISTRY_ENTITIES_ACTIVE,
    REGISTRY_REGISTRATION_SECONDS,
};

/// A tracker allowed to log in, from configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceEntry {
    pub imei: Imei,
    /// Device model; selects the IO profile.
    pub model: String,
    #[serde(default)]
    pub name: Option<String>,
}

pub struct RegistrySettings {
    pub register_unknown: bool,
    /// Model given to devices registered on first contact.
    pub default_model: String,
    /// Devices from configuration; added to the database at start.
    pub devices: Vec<DeviceEntry>,
    /// One factory per kind of entity.
    pub factories: Vec<Box<dyn EntityFactory>>,
    pub pool: ArbiterPool,
    pub store: Store,
    /// An entity offline and without data for this long is stopped; it starts again at the
    /// device's next login.
    pub idle_stop_after: Duration,
}

/// A device the database knows.
#[derive(Debug, Clone)]
struct KnownDevice {
    id: DeviceId,
    model: String,
    vehicle_id: Option<VehicleId>,
}

/// Owns the device list, the live connections and the entity actors.
pub struct DeviceRegistryActor {
    settings: RegistrySettings,
    factories: HashMap<EntityKind, Box<dyn EntityFactory>>,
    devices: HashMap<EntityKey, KnownDevice>,
    entities: HashMap<EntityKey, EntityHandle>,
    /// How many entities of each kind run (kept, not counted, so a burst of logins stays
    /// linear).
    active: HashMap<EntityKind, usize>,
    /// The entities' snapshots, readable by others (HTTP reads need no message).
    directory: Directory,
    connections: HashMap<EntityKey, ConnectionHandle>,
    /// Told of every connection and its end (queued commands go out then).
    watchers: Option<WatchConnections>,
    /// Presence changes not yet stored, the latest per device; written together.
    presence: HashMap<DeviceId, (bool, i64)>,
    presence_writing: bool,
    /// Unknown devices to register, with who waits for each: registered together, one
    /// batch in flight at a time, so that a storm of first logins is a few statements.
    registering: HashMap<EntityKey, Vec<Waiter>>,
    registration_in_flight: bool,
}

/// A login waiting for its device's registration.
type Waiter = (
    Option<ConnectionHandle>,
    tokio::sync::oneshot::Sender<Result<DeviceGrant, LoginRefused>>,
);

/// How often pending presence changes are written.
const PRESENCE_FLUSH: Duration = Duration::from_millis(100);

impl DeviceRegistryActor {
    /// Registers the configured devices in the database and loads every registered one.
    pub async fn load(mut settings: RegistrySettings) -> Result<Self, DbError> {
        for d in &settings.devices {
            settings
                .store
                .ensure_device(
                    &d.imei.to_string(),
                    &d.model,
                    d.name.as_deref(),
                    EntityKind::Tracker.as_str(),
                )
                .await?;
        }
        let mut devices = HashMap::new();
        for row in settings.store.devices().await? {
            match EntityKey::parse(&row.kind, &row.imei) {
                Some(key) => {
                    devices.insert(
                        key,
                        KnownDevice {
                            id: DeviceId(row.id),
                            model: row.model,
                            vehicle_id: row.vehicle_id.map(VehicleId),
                        },
                    );
                }
                None => tracing::warn!(
                    identifier = %row.imei,
                    kind = %row.kind,
                    "device row skipped: not a valid identifier of its kind"
                ),
            }
        }
        tracing::info!(devices = devices.len(), "device registry loaded");
        let factories = std::mem::take(&mut settings.factories)
            .into_iter()
            .map(|f| (f.kind(), f))
            .collect();
        Ok(Self {
            settings,
            factories,
            devices,
            entities: HashMap::new(),
            active: HashMap::new(),
            directory: Directory::default(),
            connections: HashMap::new(),
            watchers: None,
            presence: HashMap::new(),
            presence_writing: false,
            registering: HashMap::new(),
            registration_in_flight: false,
        })
    }

    /// The shared view of the running entities.
    pub fn directory(&self) -> Directory {
        self.directory.clone()
    }

    /// One more (`+1`) or one fewer (`-1`) entity of `kind`.
    fn count(&mut self, kind: EntityKind, change: isize) {
        let n = self.active.entry(kind).or_default();
        *n = n.saturating_add_signed(change);
        metrics::gauge!(REGISTRY_ENTITIES_ACTIVE, "kind" => kind.as_str()).set(*n as f64);
    }

    /// The running entity of `key`, started (again) when it is not running.
    fn entity(&mut self, key: EntityKey) -> Result<EntityHandle, LoginRefused> {
        let known = self
            .devices
            .get(&key)
            .cloned()
            .ok_or(LoginRefused::Unknown(key))?;
        if let Some(h) = self.entities.get(&key) {
            if h.running() {
                return Ok(h.clone());
            }
            // Stopped for good (its supervisor gave up, or it was retired): a new one.
            metrics::counter!(ACTOR_RESTARTS_TOTAL, "actor" => key.kind().as_str()).increment(1);
        }
        let factory = self
            .factories
            .get(&key.kind())
            .ok_or(LoginRefused::NoFactory)?;
        let record = DeviceRecord {
            key,
            device_id: known.id,
            model: known.model,
            vehicle_id: known.vehicle_id,
        };
        let handle = factory
            .start(&record, self.settings.pool.for_key(key))
            .ok_or(LoginRefused::NoFactory)?;
        if self.entities.insert(key, handle.clone()).is_none() {
            self.count(key.kind(), 1);
        }
        // A device without a connection of its own (an edge node, a robot, a tracker on
        // UDP) is heard of when its entity starts: recorded, so that after a restart its
        // silence is measured from here.
        self.presence(key, true);
        self.directory
            .insert(key, handle.slot.clone(), known.vehicle_id);
        Ok(handle)
    }

    /// Drops an entity: the registry's handle goes, so its supervisor lets it stop.
    fn forget_entity(&mut self, key: &EntityKey) -> Option<EntityHandle> {
        self.directory.remove(key);
        let handle = self.entities.remove(key);
        if handle.is_some() {
            self.count(key.kind(), -1);
        }
        handle
    }

    /// Stops the entities of devices that have been offline for `idle_stop_after` and have
    /// no connection: memory stays proportional to the active fleet.
    fn retire_idle(&mut self, ctx: &mut Context<Self>) {
        let threshold = self.settings.idle_stop_after;
        let asks: Vec<_> = self
            .entities
            .iter()
            .filter(|(key, _)| !self.connections.contains_key(key))
            .map(|(key, h)| (*key, h.control.send(Control::IdleFor)))
            .collect();
        if asks.is_empty() {
            return;
        }
        let check = async move {
            let mut idle = Vec::new();
            for (key, ask) in asks {
                if let Ok(Some(d)) = ask.await {
                    if d >= threshold {
                        idle.push(key);
                    }
                }
            }
            idle
        };
        ctx.spawn(check.into_actor(self).map(|idle, act, _ctx| {
            for key in idle {
                if act.connections.contains_key(&key) {
                    continue;
                }
                if let Some(h) = act.forget_entity(&key) {
                    h.control.do_send(Control::Retire);
                    tracing::debug!(%key, "idle entity stopped");
                }
            }
        }));
    }

    /// Notes that a device connected or disconnected; stored with the others at the next
    /// presence write.
    fn presence(&mut self, key: EntityKey, online: bool) {
        let Some(device) = self.devices.get(&key) else {
            return;
        };
        let now = chrono::Utc::now().timestamp_millis();
        self.presence.insert(device.id, (online, now));
    }

    /// The pending presence changes as the store takes them, `(device id, online, at ms)`.
    fn take_presence(&mut self) -> Vec<(i64, bool, i64)> {
        self.presence
            .drain()
            .map(|(id, (online, at))| (id.0, online, at))
            .collect()
    }

    /// Writes the pending presence changes in one transaction, one write at a time.
    fn write_presence(&mut self, ctx: &mut Context<Self>) {
        if self.presence_writing || self.presence.is_empty() {
            return;
        }
        let list = self.take_presence();
        self.presence_writing = true;
        let store = self.settings.store.clone();
        ctx.spawn(
            async move {
                let n = list.len();
                if let Err(e) = store.set_presence_many(list).await {
                    tracing::debug!(devices = n, "presence not stored: {e}");
                }
            }
            .into_actor(self)
            .map(|(), act, _ctx| act.presence_writing = false),
        );
    }

    /// Registers the devices waiting for it in one batch per kind, then answers their
    /// logins; those that arrive meanwhile make the next batch.
    fn register_waiting(&mut self, ctx: &mut Context<Self>) {
        if self.registration_in_flight || self.registering.is_empty() {
            return;
        }
        let mut by_kind: HashMap<&'static str, Vec<(String, String)>> = HashMap::new();
        let mut batch = HashMap::new();
        for (key, waiters) in self.registering.drain() {
            let factory = self.factories.get(&key.kind());
            let model = factory
                .and_then(|f| f.default_model())
                .unwrap_or_else(|| self.settings.default_model.clone());
            by_kind
                .entry(key.kind().as_str())
                .or_default()
                .push((key.to_string(), model));
            batch.insert(key, waiters);
        }
        self.registration_in_flight = true;
        let store = self.settings.store.clone();
        let started = std::time::Instant::now();
        let work = async move {
            let mut rows = Vec::new();
            for (kind, list) in by_kind {
                rows.extend(store.ensure_devices(kind, &list).await?);
            }
            Ok::<_, DbError>(rows)
        };
        ctx.spawn(work.into_actor(self).map(move |res, act, ctx| {
            act.registration_in_flight = false;
            metrics::histogram!(REGISTRY_REGISTRATION_SECONDS)
                .record(started.elapsed().as_secs_f64());
            match res {
                Ok(rows) => {
                    for row in rows {
                        let Some(key) = EntityKey::parse(&row.kind, &row.imei) else {
                            continue;
                        };
                        if let std::collections::hash_map::Entry::Vacant(e) = act.devices.entry(key) {
                            tracing::info!(%key, model = %row.model, "registered unknown device on first contact");
                            metrics::counter!(REGISTRY_DEVICES_REGISTERED_TOTAL).increment(1);
                            e.insert(KnownDevice {
                                id: DeviceId(row.id),
                                model: row.model,
                                vehicle_id: row.vehicle_id.map(VehicleId),
                            });
                        }
                    }
                    for (key, waiters) in batch {
                        for (connection, tx) in waiters {
                            let _ = tx.send(act.grant(key, connection));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(devices = batch.len(), "devices not registered: {e}");
                    let refused = LoginRefused::Storage(e.to_string());
                    for (_, waiters) in batch {
                        for (_, tx) in waiters {
                            let _ = tx.send(Err(refused.clone()));
                        }
                    }
                }
            }
            act.register_waiting(ctx);
        }));
    }

    fn target(&self, key: EntityKey) -> Option<CommandTarget> {
        let d = self.devices.get(&key)?;
        Some(CommandTarget {
            key,
            device_id: d.id,
            vehicle_id: d.vehicle_id,
        })
    }

    fn grant(
        &mut self,
        key: EntityKey,
        connection: Option<ConnectionHandle>,
    ) -> Result<DeviceGrant, LoginRefused> {
        let entity = self.entity(key)?;
        if let Some(connection) = connection {
            self.presence(key, true);
            if let (Some(w), Some(target), Some(deliver)) =
                (&self.watchers, self.target(key), connection.deliver.clone())
            {
                let _ = w.connected.try_send(DeviceConnected { target, deliver });
            }
            if let Some(old) = self.connections.insert(key, connection) {
                tracing::info!(%key, "newer connection replaces the open one");
                let _ = old.close.try_send(CloseConnection(CloseReason::Replaced));
            }
        }
        let model = self
            .devices
            .get(&key)
            .map(|d| d.model.clone())
            .unwrap_or_default();
        Ok(DeviceGrant {
            entity: entity.ingest,
            model,
        })
    }

    fn disconnect(&mut self, key: &EntityKey, reason: CloseReason) {
        if let Some(c) = self.connections.remove(key) {
            let _ = c.close.try_send(CloseConnection(reason));
            if let Some(w) = &self.watchers {
                let _ = w.disconnected.try_send(DeviceDisconnected { key: *key });
            }
        }
    }
}

impl Actor for DeviceRegistryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(65_536);
        let every = (self.settings.idle_stop_after / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(300));
        ctx.run_interval(every, |act, ctx| act.retire_idle(ctx));
        ctx.run_interval(PRESENCE_FLUSH, |act, ctx| act.write_presence(ctx));
    }

    fn stopping(&mut self, _ctx: &mut Self::Context) -> Running {
        for c in self.connections.values() {
            let _ = c.close.try_send(CloseConnection(CloseReason::Shutdown));
        }
        // What presence is still pending is written on its way out.
        let list = self.take_presence();
        if !list.is_empty() {
            let store = self.settings.store.clone();
            actix::spawn(async move {
                let _ = store.set_presence_many(list).await;
            });
        }
        Running::Stop
    }
}

impl Handler<AuthorizeDevice> for DeviceRegistryActor {
    type Result = ResponseActFuture<Self, Result<DeviceGrant, LoginRefused>>;

    fn handle(&mut self, msg: AuthorizeDevice, ctx: &mut Self::Context) -> Self::Result {
        let key = msg.key;
        if self.devices.contains_key(&key) {
            let granted = self.grant(key, msg.connection);
            return Box::pin(actix::fut::ready(granted));
        }
        let factory = self.factories.get(&key.kind());
        let register = factory
            .and_then(|f| f.register_unknown())
            .unwrap_or(self.settings.register_unknown);
        if !register {
            return Box::pin(actix::fut::ready(Err(LoginRefused::Unknown(key))));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.registering
            .entry(key)
            .or_default()
            .push((msg.connection, tx));
        self.register_waiting(ctx);
        Box::pin(
            async move {
                rx.await
                    .unwrap_or_else(|_closed| Err(LoginRefused::Storage("registry stopped".into())))
            }
            .into_actor(self),
        )
    }
}

impl Handler<WatchConnections> for DeviceRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: WatchConnections, _ctx: &mut Self::Context) {
        self.watchers = Some(msg);
    }
}

impl Handler<ConnectionEnded> for DeviceRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: ConnectionEnded, _ctx: &mut Self::Context) {
        if self
            .connections
            .get(&msg.key)
            .is_some_and(|c| c.id == msg.connection)
        {
            self.connections.remove(&msg.key);
            if let Some(w) = &self.watchers {
                let _ = w.disconnected.try_send(DeviceDisconnected { key: msg.key });
            }
            self.presence(msg.key, false);
        }
    }
}

impl Handler<Shutdown> for DeviceRegistryActor {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<DeviceUpserted> for DeviceRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: DeviceUpserted, _ctx: &mut Self::Context) {
        let changed_model = self
            .devices
            .get(&msg.key)
            .is_some_and(|d| d.model != msg.model);
        let vehicle_id = self.devices.get(&msg.key).and_then(|d| d.vehicle_id);
        self.devices.insert(
            msg.key,
            KnownDevice {
                id: DeviceId(msg.id),
                model: msg.model,
                vehicle_id,
            },
        );
        if changed_model {
            // The entity starts again with the new model at the next login.
            self.forget_entity(&msg.key);
            self.disconnect(&msg.key, CloseReason::Replaced);
        }
    }
}

impl Handler<DeviceRemoved> for DeviceRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: DeviceRemoved, _ctx: &mut Self::Context) {
        self.devices.remove(&msg.key);
        self.forget_entity(&msg.key);
        if self.connections.contains_key(&msg.key) {
            tracing::info!(key = %msg.key, "device deleted; closing its connection");
        }
        self.disconnect(&msg.key, CloseReason::Replaced);
    }
}

impl Handler<DeviceAssigned> for DeviceRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: DeviceAssigned, _ctx: &mut Self::Context) {
        if let Some(d) = self.devices.get_mut(&msg.key) {
            d.vehicle_id = msg.vehicle_id;
        }
        self.directory.set_vehicle(&msg.key, msg.vehicle_id);
        if let Some(h) = self.entities.get(&msg.key) {
            // Control messages must arrive: they wait in the mailbox rather than fail.
            h.control.do_send(Control::SetVehicle(msg.vehicle_id));
        }
    }
}
