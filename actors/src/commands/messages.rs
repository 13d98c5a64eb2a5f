use actix::{Message, Recipient};
use urbanstream_schema::models::CommandRow;
use urbanstream_schema::store::DbError;
use urbanstream_schema::{DeviceId, VehicleId};

use crate::entity::EntityKey;

/// Whom a command is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandTarget {
    pub key: EntityKey,
    pub device_id: DeviceId,
    pub vehicle_id: Option<VehicleId>,
}

/// A command from a user: stored as QUEUED, then sent when the target is connected. With
/// an idempotency key already used for the target, the command it created is returned
/// instead (`created: false`) and nothing is queued again.
#[derive(Debug, Message)]
#[rtype(result = "Result<Submitted, DbError>")]
pub struct SubmitCommand {
    pub target: CommandTarget,
    pub text: String,
    pub by: String,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    pub command: CommandRow,
    pub created: bool,
}

/// A device connected (from the registry): its queued commands go out now, over `deliver`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeviceConnected {
    pub target: CommandTarget,
    /// The transport of this connection (Codec 12 for a Teltonika session).
    pub deliver: Recipient<Deliver>,
}

/// The device's connection closed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeviceDisconnected {
    pub key: EntityKey,
}

/// Sends one command over a connection and resolves with the device's answer. Adapters
/// implement it for their transport; the ledger sends it, one at a time per device. Sent to
/// the dispatcher, it goes out over the device's current connection without a ledger entry
/// (for tools and tests).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<String, CommandError>")]
pub struct Deliver {
    pub key: EntityKey,
    pub text: String,
}

/// Why a command got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("device is not connected")]
    NotConnected,
    #[error("device did not answer in time")]
    Timeout,
    #[error("connection closed before the device answered")]
    Disconnected,
    #[error("too many commands waiting for an answer")]
    Busy,
    #[error("command is not valid: {0}")]
    Invalid(String),
}

impl CommandError {
    /// Bounded, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotConnected => "not_connected",
            Self::Timeout => "timeout",
            Self::Disconnected => "disconnected",
            Self::Busy => "busy",
            Self::Invalid(_) => "invalid",
        }
    }
}

/// Sends what is queued for a device (after a submit, a login, or a busy session).
#[derive(Debug, Message, Clone, Copy)]
#[rtype(result = "()")]
pub(super) struct DispatchQueued(pub CommandTarget);
