//! `/api/v1/analytics`: figures over a time window for dashboards.

pub mod fleet_summary;
pub mod fuel_consumption;
pub mod route_performance;
pub mod vehicle_stats;

use serde::Deserialize;

use super::ApiError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Span {
    /// Window start, ms since the epoch (inclusive).
    from: i64,
    /// Window end, ms since the epoch (exclusive); at most 93 days after `from`.
    to: i64,
}

impl Span {
    pub(crate) fn checked(&self) -> Result<(i64, i64), ApiError> {
        super::reports::check_window(self.from, self.to)?;
        Ok((self.from, self.to))
    }
}
