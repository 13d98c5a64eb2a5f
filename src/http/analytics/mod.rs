//! `/api/v1/analytics`: figures over a time window for dashboards.

pub mod fleet_summary;
pub mod fuel_consumption;
pub mod route_performance;
pub mod vehicle_stats;

use serde::Deserialize;

use super::reports::Millis;
use super::ApiError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Span {
    /// Window start, ms since the epoch or RFC 3339 (inclusive).
    #[param(value_type = i64)]
    from: Millis,
    /// Window end, ms since the epoch or RFC 3339 (exclusive); at most 93 days after `from`.
    #[param(value_type = i64)]
    to: Millis,
}

impl Span {
    pub(crate) fn checked(&self) -> Result<(i64, i64), ApiError> {
        super::reports::check_window(self.from.0, self.to.0)?;
        Ok((self.from.0, self.to.0))
    }
}
