//! `/api/v1/alerts`: the alerts the rule engine raised, and what users do with them.

pub mod acknowledge;
pub mod clear;
pub mod get;
pub mod list;

use std::sync::Arc;

use serde::Serialize;
use urbanstream_actors::rules::{AlertAction, AlertChanged};
use urbanstream_schema::models::{AlertRow, AlertView};

use super::{ApiError, HttpState};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertPage {
    items: Vec<AlertView>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

/// Tells live subscribers (here and, through Redis, on other nodes) what a user did.
pub(crate) async fn announce(
    state: &HttpState,
    action: AlertAction,
    row: AlertRow,
) -> Result<AlertView, ApiError> {
    let view = AlertView::from(row);
    let imei = state
        .store
        .device_by_id(view.device_id)
        .await?
        .and_then(|d| d.imei.parse().ok());
    if let Some(imei) = imei {
        state.hub.do_send(AlertChanged {
            action,
            key: urbanstream_actors::entity::EntityKey::Tracker(imei),
            alert: Arc::new(view.clone()),
        });
    }
    Ok(view)
}
