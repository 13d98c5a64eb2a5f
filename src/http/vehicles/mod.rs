pub mod assign_device;
pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod location;
pub mod replace;
pub mod update;

use serde::Serialize;
use urbanstream_schema::models::VehicleRow;
use utoipa::ToSchema;

use super::ApiError;

pub(crate) fn check_year(year: Option<i32>) -> Result<(), ApiError> {
    match year {
        Some(y) if !(1900..=2100).contains(&y) => {
            Err(ApiError::BadRequest(format!("year {y} is not plausible")))
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VehiclePage {
    pub items: Vec<VehicleRow>,
    pub next_cursor: Option<i64>,
}
