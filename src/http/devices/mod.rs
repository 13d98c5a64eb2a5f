pub mod command;
pub mod commands;
pub mod create;
pub mod delete;
pub mod get;
pub mod history;
pub mod latest;
pub mod list;
pub mod send_command;
pub mod update;

use urbanstream_schema::Imei;

use super::ApiError;

pub(crate) fn parse_imei(s: &str) -> Result<Imei, ApiError> {
    s.parse()
        .map_err(|e| ApiError::BadRequest(format!("`{s}` is not an IMEI: {e}")))
}
