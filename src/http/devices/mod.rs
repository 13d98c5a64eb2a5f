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

use super::ApiError;

pub(crate) fn parse_imei(s: &str) -> Result<Imei, ApiError> {
    s.parse()
        .map_err(|e| ApiError::BadRequest(format!("`{s}` is not an IMEI: {e}")))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DevicePage {
    pub items: Vec<DeviceRow>,
    pub next_cursor: Option<i64>,
}
