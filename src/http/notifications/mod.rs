//! `/api/v1/notifications`: channels alerts are sent to (webhook, e-mail), and the
//! deliveries that failed every attempt.

pub mod create;
pub mod dead_letters;
pub mod delete;
pub mod list;
pub mod replace;

use serde::{Deserialize, Serialize};
use urbanstream_actors::notify::{validate_target, ChannelKind};
use urbanstream_schema::models::{ChannelData, ChannelRow};

use super::ApiError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    name: String,
    /// `webhook` or `email`.
    kind: String,
    /// Webhook: the http(s) URL alerts are POSTed to. E-mail: comma-separated addresses.
    target: String,
    /// Webhook signing secret (at least 16 characters): each request carries
    /// `X-Urbanstream-Signature: sha256=<hex HMAC-SHA256 of "<X-Urbanstream-Timestamp>.<body>">`.
    secret: Option<String>,
    #[serde(default = "enabled")]
    enabled: bool,
}

fn enabled() -> bool {
    true
}

/// A channel; its secret is never shown, only whether it has one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    id: i64,
    name: String,
    kind: String,
    target: String,
    signed: bool,
    enabled: bool,
    created_ms: i64,
    updated_ms: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelList {
    items: Vec<ChannelView>,
}

pub(crate) fn view(r: &ChannelRow) -> ChannelView {
    ChannelView {
        id: r.id,
        name: r.name.clone(),
        kind: r.kind.clone(),
        // A webhook URL's password and secret parameters are not shown back.
        target: urbanstream_schema::redact::redact(&r.target),
        signed: r.secret.is_some(),
        enabled: r.enabled,
        created_ms: r.created_ms,
        updated_ms: r.updated_ms,
    }
}

pub(crate) fn to_data(c: ChannelInput) -> Result<ChannelData, ApiError> {
    let name = c.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "name must be 1 to 200 characters".into(),
        ));
    }
    let kind = ChannelKind::parse(&c.kind)
        .ok_or_else(|| ApiError::BadRequest("kind must be webhook or email".into()))?;
    let target = c.target.trim();
    if target.len() > 2_000 {
        return Err(ApiError::BadRequest(
            "target: at most 2000 characters".into(),
        ));
    }
    validate_target(kind, target).map_err(ApiError::BadRequest)?;
    if let Some(s) = &c.secret {
        if kind != ChannelKind::Webhook {
            return Err(ApiError::BadRequest(
                "secret: only webhooks are signed".into(),
            ));
        }
        if !(16..=256).contains(&s.len()) {
            return Err(ApiError::BadRequest(
                "secret must be 16 to 256 characters".into(),
            ));
        }
    }
    Ok(ChannelData {
        name: name.to_owned(),
        kind: kind.as_str().to_owned(),
        target: target.to_owned(),
        secret: c.secret,
        enabled: c.enabled,
        updated_ms: crate::auth::now_ms(),
    })
}
