use std::sync::Arc;

use actix::{Message, Recipient};
use urbanstream_schema::Imei;

use crate::teltonika::io_profile::IoProfile;
use crate::teltonika::{CommandError, SessionHandle, SessionId};
use crate::vehicle::{IngestRecords, VehicleSnapshot};

/// A device presents its IMEI. TCP sessions pass their handle; UDP passes none.
#[derive(Message)]
#[rtype(result = "Result<DeviceGrant, LoginRefused>")]
pub struct AuthorizeDevice {
    pub imei: Imei,
    pub session: Option<SessionHandle>,
}

/// Where an accepted device's frames go.
#[derive(Clone)]
pub struct DeviceGrant {
    pub vehicle: Recipient<IngestRecords>,
    pub profile: Arc<IoProfile>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefused {
    #[error("IMEI {0} is not registered")]
    Unknown(Imei),
    #[error("registration not stored: {0}")]
    Storage(String),
}

/// A session closed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SessionEnded {
    pub imei: Imei,
    pub session: SessionId,
}

/// Sends a Codec 12 command to a connected device.
#[derive(Debug, Message)]
#[rtype(result = "Result<String, CommandError>")]
pub struct SendDeviceCommand {
    pub imei: Imei,
    pub text: String,
}

/// The live state of a device's vehicle, if it has one running.
#[derive(Debug, Message)]
#[rtype(result = "Option<VehicleSnapshot>")]
pub struct GetVehicleSnapshot {
    pub imei: Imei,
}

/// Stops the registry; it tells every open session to close.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// A device was added or changed through the API.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeviceUpserted {
    pub imei: Imei,
    pub id: i64,
    pub model: String,
}

/// A device was deleted: it may no longer log in; an open session is closed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeviceRemoved {
    pub imei: Imei,
}

/// Every running vehicle's snapshot.
#[derive(Debug, Message)]
#[rtype(result = "Vec<VehicleSnapshot>")]
pub struct FleetSnapshot;

/// A device was put in a vehicle (or taken out, with `None`).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeviceAssigned {
    pub imei: Imei,
    pub vehicle_id: Option<i64>,
}

/// The snapshots of the running vehicle actors of the devices in one vehicle.
#[derive(Debug, Message)]
#[rtype(result = "Vec<VehicleSnapshot>")]
pub struct VehicleSnapshots {
    pub vehicle_id: i64,
}
