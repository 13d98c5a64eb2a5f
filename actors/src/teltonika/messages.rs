use std::sync::atomic::{AtomicU64, Ordering};

use actix::{Message, Recipient};

/// Identifies one TCP connection, so that a late `SessionEnded` from a replaced session
/// does not unregister its successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub u64);

impl SessionId {
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// How the registry reaches a live session.
#[derive(Clone)]
pub struct SessionHandle {
    pub id: SessionId,
    pub close: Recipient<CloseSession>,
    pub command: Recipient<SendCommand>,
}

/// Why a session is told to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The same IMEI logged in on a newer connection.
    Replaced,
    Shutdown,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Replaced => "replaced",
            Self::Shutdown => "shutdown",
        }
    }
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CloseSession(pub CloseReason);

/// Sends a Codec 12 command and resolves with the device's response text.
#[derive(Debug, Message)]
#[rtype(result = "Result<String, CommandError>")]
pub struct SendCommand {
    pub text: String,
}

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
