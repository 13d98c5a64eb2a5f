pub mod assign_device;
pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod location;
pub mod update;

use super::ApiError;

pub(crate) fn check_year(year: Option<i32>) -> Result<(), ApiError> {
    match year {
        Some(y) if !(1900..=2100).contains(&y) => {
            Err(ApiError::BadRequest(format!("year {y} is not plausible")))
        }
        _ => Ok(()),
    }
}
