use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use urbanstream_schema::Imei;

use super::messages::{
    AuthorizeDevice, DeviceGrant, GetVehicleSnapshot, LoginRefused, SendDeviceCommand,
    SessionEnded, Shutdown,
};
use crate::arbiters::ArbiterPool;
use crate::metrics::{REGISTRY_DEVICES_REGISTERED_TOTAL, REGISTRY_ENTITIES_ACTIVE};
use crate::teltonika::io_profile::IoProfiles;
use crate::teltonika::{CloseReason, CloseSession, CommandError, SendCommand, SessionHandle};
use crate::vehicle::{GetSnapshot, VehicleActor, VehicleSettings};

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
    pub devices: Vec<DeviceEntry>,
    pub profiles: Arc<IoProfiles>,
    pub vehicle: VehicleSettings,
    pub pool: ArbiterPool,
}

/// Owns the device list, the live sessions by IMEI and the entity actors.
pub struct DeviceRegistryActor {
    settings: RegistrySettings,
    devices: HashMap<Imei, DeviceEntry>,
    vehicles: HashMap<Imei, Addr<VehicleActor>>,
    sessions: HashMap<Imei, SessionHandle>,
}

impl DeviceRegistryActor {
    pub fn new(settings: RegistrySettings) -> Self {
        let devices = settings
            .devices
            .iter()
            .map(|d| (d.imei, d.clone()))
            .collect();
        Self {
            settings,
            devices,
            vehicles: HashMap::new(),
            sessions: HashMap::new(),
        }
    }

    fn vehicle(&mut self, imei: Imei) -> Option<Addr<VehicleActor>> {
        let model = self.devices.get(&imei)?.model.clone();
        if let Some(addr) = self.vehicles.get(&imei) {
            if addr.connected() {
                return Some(addr.clone());
            }
        }
        let profile = self.settings.profiles.for_model(&model);
        let settings = self.settings.vehicle.clone();
        let arbiter = self.settings.pool.for_key(imei);
        let addr = Supervisor::start_in_arbiter(arbiter, move |_| {
            VehicleActor::new(imei, profile, settings)
        });
        self.vehicles.insert(imei, addr.clone());
        metrics::gauge!(REGISTRY_ENTITIES_ACTIVE, "kind" => "vehicle")
            .set(self.vehicles.len() as f64);
        Some(addr)
    }
}

impl Actor for DeviceRegistryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(65_536);
    }

    fn stopping(&mut self, _ctx: &mut Self::Context) -> Running {
        for s in self.sessions.values() {
            let _ = s.close.try_send(CloseSession(CloseReason::Shutdown));
        }
        Running::Stop
    }
}

impl Handler<AuthorizeDevice> for DeviceRegistryActor {
    type Result = Result<DeviceGrant, LoginRefused>;

    fn handle(&mut self, msg: AuthorizeDevice, _ctx: &mut Self::Context) -> Self::Result {
        let imei = msg.imei;
        if !self.devices.contains_key(&imei) {
            if !self.settings.register_unknown {
                return Err(LoginRefused::Unknown(imei));
            }
            tracing::info!(%imei, model = %self.settings.default_model, "registered unknown device on first contact");
            metrics::counter!(REGISTRY_DEVICES_REGISTERED_TOTAL).increment(1);
            let entry = DeviceEntry {
                imei,
                model: self.settings.default_model.clone(),
                name: None,
            };
            self.devices.insert(imei, entry);
        }
        let vehicle = self.vehicle(imei).ok_or(LoginRefused::Unknown(imei))?;
        if let Some(session) = msg.session {
            if let Some(old) = self.sessions.insert(imei, session) {
                tracing::info!(%imei, "newer connection replaces the open session");
                let _ = old.close.try_send(CloseSession(CloseReason::Replaced));
            }
        }
        let profile = self.settings.profiles.for_model(&self.devices[&imei].model);
        Ok(DeviceGrant {
            vehicle: vehicle.recipient(),
            profile,
        })
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
