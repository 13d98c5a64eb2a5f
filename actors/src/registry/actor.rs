use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use urbanstream_schema::store::{DbError, Store};
use urbanstream_schema::Imei;

use super::messages::{
    AuthorizeDevice, DeviceAssigned, DeviceGrant, DeviceRemoved, DeviceUpserted, FleetSnapshot,
    GetVehicleSnapshot, LoginRefused, SendDeviceCommand, SessionEnded, Shutdown, VehicleSnapshots,
};
use crate::arbiters::ArbiterPool;
use crate::commands::DeviceConnected;
use crate::metrics::{REGISTRY_DEVICES_REGISTERED_TOTAL, REGISTRY_ENTITIES_ACTIVE};
use crate::teltonika::io_profile::IoProfiles;
use crate::teltonika::{CloseReason, CloseSession, CommandError, SendCommand, SessionHandle};
use crate::vehicle::{GetSnapshot, SnapshotSlot, VehicleActor, VehicleSettings};

/// A device allowed to log in.
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
    pub profiles: Arc<IoProfiles>,
    pub vehicle: VehicleSettings,
    pub pool: ArbiterPool,
    pub store: Store,
    /// A vehicle actor offline and without data for this long is stopped; it starts again
    /// at the device's next login.
    pub idle_stop_after: std::time::Duration,
}

/// A device the database knows.
#[derive(Debug, Clone)]
struct KnownDevice {
    id: i64,
    model: String,
    vehicle_id: Option<i64>,
}

/// Owns the device list, the live sessions by IMEI and the entity actors.
pub struct DeviceRegistryActor {
    settings: RegistrySettings,
    devices: HashMap<Imei, KnownDevice>,
    vehicles: HashMap<Imei, Addr<VehicleActor>>,
    /// The same map, readable by others (HTTP reads go straight to the vehicle's actor).
    directory: VehicleDirectory,
    sessions: HashMap<Imei, SessionHandle>,
    /// Told of every login (queued device commands go out then).
    logins: Option<Recipient<DeviceConnected>>,
}

impl DeviceRegistryActor {
    /// Registers the configured devices in the database and loads every registered one.
    pub async fn load(settings: RegistrySettings) -> Result<Self, DbError> {
        for d in &settings.devices {
            settings
                .store
                .ensure_device(&d.imei.to_string(), &d.model, d.name.as_deref())
                .await?;
        }
        let mut devices = HashMap::new();
        for row in settings.store.devices().await? {
            match row.imei.parse::<Imei>() {
                Ok(imei) => {
                    devices.insert(
                        imei,
                        KnownDevice {
                            id: row.id,
                            model: row.model,
                            vehicle_id: row.vehicle_id,
                        },
                    );
                }
                Err(e) => tracing::warn!(imei = %row.imei, "device row skipped: {e}"),
            }
        }
        tracing::info!(devices = devices.len(), "device registry loaded");
        Ok(Self {
            settings,
            devices,
            vehicles: HashMap::new(),
            directory: VehicleDirectory::default(),
            sessions: HashMap::new(),
            logins: None,
        })
    }

    /// The shared view of the running vehicle actors.
    pub fn directory(&self) -> VehicleDirectory {
        self.directory.clone()
    }

    fn vehicle(&mut self, imei: Imei) -> Option<Addr<VehicleActor>> {
        let known = self.devices.get(&imei)?.clone();
        if let Some(addr) = self.vehicles.get(&imei) {
            if addr.connected() {
                return Some(addr.clone());
            }
        }
        let profile = self.settings.profiles.for_model(&known.model);
        let settings = self.settings.vehicle.clone();
        let arbiter = self.settings.pool.for_key(imei);
        let slot = Arc::new(SnapshotSlot::default());
        let actor_slot = slot.clone();
        let addr = Supervisor::start_in_arbiter(arbiter, move |_| {
            VehicleActor::new(
                imei,
                known.id,
                known.vehicle_id,
                profile,
                settings,
                actor_slot,
            )
        });
        self.vehicles.insert(imei, addr.clone());
        self.directory.insert(imei, slot);
        metrics::gauge!(REGISTRY_ENTITIES_ACTIVE, "kind" => "vehicle")
            .set(self.vehicles.len() as f64);
        Some(addr)
    }

    /// Stops the vehicle actors of devices that have been offline for `idle_stop_after` and
    /// have no session: memory stays proportional to the active fleet.
    fn retire_idle(&mut self, ctx: &mut Context<Self>) {
        let threshold = self.settings.idle_stop_after;
        let asks: Vec<_> = self
            .vehicles
            .iter()
            .filter(|(imei, _)| !self.sessions.contains_key(imei))
            .map(|(imei, addr)| (*imei, addr.send(crate::vehicle::IdleFor)))
            .collect();
        if asks.is_empty() {
            return;
        }
        let check = async move {
            let mut idle = Vec::new();
            for (imei, ask) in asks {
                if let Ok(Some(d)) = ask.await {
                    if d >= threshold {
                        idle.push(imei);
                    }
                }
            }
            idle
        };
        ctx.spawn(check.into_actor(self).map(|idle, act, _ctx| {
            for imei in idle {
                if act.sessions.contains_key(&imei) {
                    continue;
                }
                act.directory.remove(&imei);
                if let Some(addr) = act.vehicles.remove(&imei) {
                    // Once the registry's address is gone, the supervisor lets it stop.
                    addr.do_send(crate::vehicle::Retire);
                    tracing::debug!(%imei, "idle vehicle actor stopped");
                }
            }
            metrics::gauge!(REGISTRY_ENTITIES_ACTIVE, "kind" => "vehicle")
                .set(act.vehicles.len() as f64);
        }));
    }

    /// Records in the database that a device connected or disconnected (in the background).
    fn presence(&self, imei: Imei, online: bool) {
        let Some(device) = self.devices.get(&imei) else {
            return;
        };
        let (store, id) = (self.settings.store.clone(), device.id);
        let now = chrono::Utc::now().timestamp_millis();
        actix::spawn(async move {
            if let Err(e) = store.set_presence(id, online, now).await {
                tracing::debug!(%imei, "presence not stored: {e}");
            }
        });
    }

    fn grant(
        &mut self,
        imei: Imei,
        session: Option<SessionHandle>,
    ) -> Result<DeviceGrant, LoginRefused> {
        let vehicle = self.vehicle(imei).ok_or(LoginRefused::Unknown(imei))?;
        if let Some(session) = session {
            self.presence(imei, true);
            if let (Some(logins), Some(d)) = (&self.logins, self.devices.get(&imei)) {
                let _ = logins.try_send(DeviceConnected {
                    imei,
                    device_id: d.id,
                    vehicle_id: d.vehicle_id,
                });
            }
            if let Some(old) = self.sessions.insert(imei, session) {
                tracing::info!(%imei, "newer connection replaces the open session");
                let _ = old.close.try_send(CloseSession(CloseReason::Replaced));
            }
        }
        let model = self
            .devices
            .get(&imei)
            .map(|d| d.model.as_str())
            .unwrap_or_default();
        let profile = self.settings.profiles.for_model(model);
        Ok(DeviceGrant {
            vehicle: vehicle.recipient(),
            profile,
        })
    }
}

impl Actor for DeviceRegistryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(65_536);
        let every = (self.settings.idle_stop_after / 4).clamp(
            std::time::Duration::from_millis(50),
            std::time::Duration::from_secs(300),
        );
        ctx.run_interval(every, |act, ctx| act.retire_idle(ctx));
    }

    fn stopping(&mut self, _ctx: &mut Self::Context) -> Running {
        for s in self.sessions.values() {
            let _ = s.close.try_send(CloseSession(CloseReason::Shutdown));
        }
        Running::Stop
    }
}

impl Handler<AuthorizeDevice> for DeviceRegistryActor {
    type Result = ResponseActFuture<Self, Result<DeviceGrant, LoginRefused>>;

    fn handle(&mut self, msg: AuthorizeDevice, _ctx: &mut Self::Context) -> Self::Result {
        let imei = msg.imei;
        if self.devices.contains_key(&imei) {
            let granted = self.grant(imei, msg.session);
            return Box::pin(actix::fut::ready(granted));
        }
        if !self.settings.register_unknown {
            return Box::pin(actix::fut::ready(Err(LoginRefused::Unknown(imei))));
        }
        let store = self.settings.store.clone();
        let model = self.settings.default_model.clone();
        Box::pin(
            async move {
                store
                    .ensure_device(&imei.to_string(), &model, None)
                    .await
                    .map(|row| (row, model))
            }
            .into_actor(self)
            .map(move |res, act, _ctx| match res {
                Ok((row, model)) => {
                    if let std::collections::hash_map::Entry::Vacant(e) = act.devices.entry(imei) {
                        tracing::info!(%imei, %model, "registered unknown device on first contact");
                        metrics::counter!(REGISTRY_DEVICES_REGISTERED_TOTAL).increment(1);
                        e.insert(KnownDevice {
                            id: row.id,
                            model: row.model,
                            vehicle_id: row.vehicle_id,
                        });
                    }
                    act.grant(imei, msg.session)
                }
                Err(e) => {
                    tracing::warn!(%imei, "device not registered: {e}");
                    Err(LoginRefused::Storage(e.to_string()))
                }
            }),
        )
    }
}

/// Who is told of every device login.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WatchLogins(pub Recipient<DeviceConnected>);

impl Handler<WatchLogins> for DeviceRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: WatchLogins, _ctx: &mut Self::Context) {
        self.logins = Some(msg.0);
    }
}

impl Handler<SessionEnded> for DeviceRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: SessionEnded, _ctx: &mut Self::Context) {
        if self
            .sessions
            .get(&msg.imei)
            .is_some_and(|s| s.id == msg.session)
        {
            self.sessions.remove(&msg.imei);
            self.presence(msg.imei, false);
        }
    }
}

impl Handler<SendDeviceCommand> for DeviceRegistryActor {
    type Result = ResponseFuture<Result<String, CommandError>>;

    fn handle(&mut self, msg: SendDeviceCommand, _ctx: &mut Self::Context) -> Self::Result {
        let Some(session) = self.sessions.get(&msg.imei) else {
            return Box::pin(async { Err(CommandError::NotConnected) });
        };
        let send = session.command.send(SendCommand { text: msg.text });
        Box::pin(async move { send.await.map_err(|_mailbox| CommandError::Disconnected)? })
    }
}

impl Handler<GetVehicleSnapshot> for DeviceRegistryActor {
    type Result = ResponseFuture<Option<crate::vehicle::VehicleSnapshot>>;

    fn handle(&mut self, msg: GetVehicleSnapshot, _ctx: &mut Self::Context) -> Self::Result {
        let addr = self.vehicles.get(&msg.imei).cloned();
        Box::pin(async move {
            match addr {
                Some(a) => a.send(GetSnapshot).await.ok(),
                None => None,
            }
        })
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
            .get(&msg.imei)
            .is_some_and(|d| d.model != msg.model);
        let vehicle_id = self.devices.get(&msg.imei).and_then(|d| d.vehicle_id);
        self.devices.insert(
            msg.imei,
            KnownDevice {
                id: msg.id,
                model: msg.model,
                vehicle_id,
            },
        );
        if changed_model {
            // The vehicle actor starts again with the new IO profile at the next login.
            self.vehicles.remove(&msg.imei);
            self.directory.remove(&msg.imei);
            if let Some(s) = self.sessions.remove(&msg.imei) {
                let _ = s.close.try_send(CloseSession(CloseReason::Replaced));
            }
        }
    }
}

impl Handler<DeviceRemoved> for DeviceRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: DeviceRemoved, _ctx: &mut Self::Context) {
        self.devices.remove(&msg.imei);
        self.vehicles.remove(&msg.imei);
        self.directory.remove(&msg.imei);
        metrics::gauge!(REGISTRY_ENTITIES_ACTIVE, "kind" => "vehicle")
            .set(self.vehicles.len() as f64);
        if let Some(s) = self.sessions.remove(&msg.imei) {
            tracing::info!(imei = %msg.imei, "device deleted; closing its session");
            let _ = s.close.try_send(CloseSession(CloseReason::Replaced));
        }
    }
}

impl Handler<FleetSnapshot> for DeviceRegistryActor {
    type Result = ResponseFuture<Vec<crate::vehicle::VehicleSnapshot>>;

    fn handle(&mut self, _msg: FleetSnapshot, _ctx: &mut Self::Context) -> Self::Result {
        let asks: Vec<_> = self
            .vehicles
            .values()
            .map(|a| a.send(GetSnapshot))
            .collect();
        Box::pin(gather(asks))
    }
}

impl Handler<DeviceAssigned> for DeviceRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: DeviceAssigned, _ctx: &mut Self::Context) {
        if let Some(d) = self.devices.get_mut(&msg.imei) {
            d.vehicle_id = msg.vehicle_id;
        }
        if let Some(v) = self.vehicles.get(&msg.imei) {
            v.do_send(crate::vehicle::SetVehicle(msg.vehicle_id));
        }
    }
}

impl Handler<VehicleSnapshots> for DeviceRegistryActor {
    type Result = ResponseFuture<Vec<crate::vehicle::VehicleSnapshot>>;

    fn handle(&mut self, msg: VehicleSnapshots, _ctx: &mut Self::Context) -> Self::Result {
        let asks: Vec<_> = self
            .devices
            .iter()
            .filter(|(_, d)| d.vehicle_id == Some(msg.vehicle_id))
            .filter_map(|(imei, _)| self.vehicles.get(imei))
            .map(|a| a.send(GetSnapshot))
            .collect();
        Box::pin(gather(asks))
    }
}

/// Awaits every snapshot asked for; actors that stopped meanwhile are left out.
async fn gather(
    asks: Vec<actix::dev::Request<VehicleActor, GetSnapshot>>,
) -> Vec<crate::vehicle::VehicleSnapshot> {
    let mut out = Vec::with_capacity(asks.len());
    for ask in asks {
        if let Ok(s) = ask.await {
            out.push(s);
        }
    }
    out
}

/// The published snapshots of the running vehicle actors by IMEI, shared read-only with
/// request handlers: reading one vehicle's state needs no message. Only the registry writes
/// it.
#[derive(Clone, Default)]
pub struct VehicleDirectory(Arc<std::sync::RwLock<HashMap<Imei, Arc<SnapshotSlot>>>>);

impl VehicleDirectory {
    /// The snapshot the vehicle's actor published last, without asking it.
    pub fn latest(&self, imei: &Imei) -> Option<Arc<crate::vehicle::Published>> {
        let slot = self.0.read().ok()?.get(imei)?.clone();
        slot.latest()
    }

    fn insert(&self, imei: Imei, slot: Arc<SnapshotSlot>) {
        if let Ok(mut m) = self.0.write() {
            m.insert(imei, slot);
        }
    }

    fn remove(&self, imei: &Imei) {
        if let Ok(mut m) = self.0.write() {
            m.remove(imei);
        }
    }
}
