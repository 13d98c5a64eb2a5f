//! Notification channels: alerts raised and cleared go out by webhook (signed, retried with
//! backoff, dead-lettered when every attempt failed) and by e-mail (SMTP), per rule.

mod actor;
pub mod logic;

pub use actor::{NotifierActor, NotifySettings, SmtpSettings, SmtpTls};
pub use logic::{sign, validate_target, ChannelKind, SIGNATURE_HEADER, TIMESTAMP_HEADER};
