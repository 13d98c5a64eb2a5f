pub mod command;
pub mod commands;
pub mod create;
pub mod delete;
pub mod get;
pub mod history;
pub mod latest;
pub mod list;
pub mod replace;
pub mod send_command;
pub mod update;

use serde::Serialize;
use urbanstream_schema::models::DeviceRow;
use urbanstream_schema::Imei;
use utoipa::ToSchema;

use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::registry::DeviceUpserted;

use super::{ApiError, HttpState};

pub(crate) fn parse_imei(s: &str) -> Result<Imei, ApiError> {
    s.parse()
        .map_err(|e| ApiError::BadRequest(format!("`{s}` is not an IMEI: {e}")))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DevicePage {
    pub items: Vec<DeviceRow>,
    pub next_cursor: Option<i64>,
}

/// The answer to a change of a device's fields: the registry learns the model (a new one
/// applies at the next login), the client gets the row.
fn changed(
    state: &HttpState,
    imei: Imei,
    row: Option<DeviceRow>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let Some(d) = row else {
        return Err(ApiError::NotFound(format!(
            "device {imei} is not registered"
        )));
    };
    state.registry.do_send(DeviceUpserted {
        key: EntityKey::Tracker(imei),
        id: d.id,
        model: d.model.clone(),
    });
    Ok(actix_web::HttpResponse::Ok().json(d))
}
