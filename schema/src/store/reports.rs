//! Reads for reports and analytics: trips, stays, events and their aggregates over a time
//! window, for some devices or all. Aggregates run in the database.

use diesel::dsl::sql;
use diesel::sql_types::{BigInt, Double, Nullable};
use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};

use super::{DbError, Store};
use crate::models::{ArrivalRow, EventRow, TripRow, VehicleStopRow};
use crate::schema::{alerts, events, stop_arrivals, telemetry, trips, vehicle_stops};

/// Which devices and when; no devices: all.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub devices: Option<Vec<i64>>,
    /// Trips and stays made in this vehicle (whichever tracker rode in it); takes the place
    /// of `devices` for them.
    pub vehicle: Option<i64>,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// One device's trips, added up.
#[derive(Debug, Clone, PartialEq, diesel::Queryable)]
pub struct TripTotals {
    pub device_id: i64,
    pub trips: i64,
    pub distance_m: f64,
    pub driving_s: f64,
    pub idle_s: f64,
    pub max_speed_kmh: f64,
    pub fuel_used_l: Option<f64>,
}

/// Speed bands of the speed profile, km/h: [0,10), [10,30), …, [110, ∞).
pub const SPEED_BANDS: [(i32, i32); 7] = [
    (0, 10),
    (10, 30),
    (30, 50),
    (50, 70),
    (70, 90),
    (90, 110),
    (110, i32::MAX),
];

impl Store {
    pub async fn trips_in(&self, w: &Window, limit: i64) -> Result<Vec<TripRow>, DbError> {
        let w = w.clone();
        on_db!(self, |c| {
            let mut q = trips::table
                .filter(trips::start_ms.ge(w.from_ms))
                .filter(trips::start_ms.lt(w.to_ms))
                .into_boxed();
            if let Some(v) = w.vehicle {
                q = q.filter(trips::vehicle_id.eq(v));
            } else if let Some(d) = w.devices.clone() {
                q = q.filter(trips::device_id.eq_any(d));
            }
            q.order((trips::start_ms, trips::device_id))
                .limit(limit)
                .select(TripRow::as_select())
                .load(c)
        })
    }

    pub async fn stays_in(&self, w: &Window, limit: i64) -> Result<Vec<VehicleStopRow>, DbError> {
        let w = w.clone();
        on_db!(self, |c| {
            let mut q = vehicle_stops::table
                .filter(vehicle_stops::start_ms.ge(w.from_ms))
                .filter(vehicle_stops::start_ms.lt(w.to_ms))
                .into_boxed();
            if let Some(v) = w.vehicle {
                q = q.filter(vehicle_stops::vehicle_id.eq(v));
            } else if let Some(d) = w.devices.clone() {
                q = q.filter(vehicle_stops::device_id.eq_any(d));
            }
            q.order((vehicle_stops::start_ms, vehicle_stops::device_id))
                .limit(limit)
                .select(VehicleStopRow::as_select())
                .load(c)
        })
    }

    pub async fn events_in(
        &self,
        w: &Window,
        kind: Option<String>,
        limit: i64,
    ) -> Result<Vec<EventRow>, DbError> {
        let w = w.clone();
        on_db!(self, |c| {
            let mut q = events::table
                .filter(events::time_ms.ge(w.from_ms))
                .filter(events::time_ms.lt(w.to_ms))
                .into_boxed();
            if let Some(d) = w.devices.clone() {
                q = q.filter(events::device_id.eq_any(d));
            }
            if let Some(k) = kind.clone() {
                q = q.filter(events::kind.eq(k));
            }
            q.order((events::time_ms, events::id))
                .limit(limit)
                .select(EventRow::as_select())
                .load(c)
        })
    }

    /// Trips added up per device.
    pub async fn trip_totals(&self, w: &Window) -> Result<Vec<TripTotals>, DbError> {
        let w = w.clone();
        on_db!(self, |c| {
            let mut q = trips::table
                .group_by(trips::device_id)
                .select((
                    trips::device_id,
                    sql::<BigInt>("COUNT(*)"),
                    sql::<Double>("CAST(SUM(distance_m) AS DOUBLE PRECISION)"),
                    sql::<Double>("CAST(SUM(duration_s) AS DOUBLE PRECISION)"),
                    sql::<Double>("CAST(SUM(idle_s) AS DOUBLE PRECISION)"),
                    sql::<Double>("CAST(MAX(max_speed_kmh) AS DOUBLE PRECISION)"),
                    sql::<Nullable<Double>>("CAST(SUM(fuel_used_l) AS DOUBLE PRECISION)"),
                ))
                .into_boxed()
                .filter(trips::start_ms.ge(w.from_ms))
                .filter(trips::start_ms.lt(w.to_ms));
            if let Some(v) = w.vehicle {
                q = q.filter(trips::vehicle_id.eq(v));
            } else if let Some(d) = w.devices.clone() {
                q = q.filter(trips::device_id.eq_any(d));
            }
            q.order(trips::device_id).load::<TripTotals>(c)
        })
    }

    /// Records per speed band (`SPEED_BANDS`) of the devices in the window, moving or not.
    pub async fn speed_profile(&self, w: &Window) -> Result<Vec<i64>, DbError> {
        let mut out = Vec::with_capacity(SPEED_BANDS.len());
        for (lo, hi) in SPEED_BANDS {
            let w = w.clone();
            let n: i64 = on_db!(self, |c| {
                let mut q = telemetry::table
                    .filter(telemetry::device_time_ms.ge(w.from_ms))
                    .filter(telemetry::device_time_ms.lt(w.to_ms))
                    .filter(telemetry::speed_kmh.ge(lo))
                    .filter(telemetry::speed_kmh.lt(hi))
                    .into_boxed();
                if let Some(d) = w.devices.clone() {
                    q = q.filter(telemetry::device_id.eq_any(d));
                }
                q.count().get_result(c)
            })?;
            out.push(n);
        }
        Ok(out)
    }

    /// Alerts raised in the window, by severity.
    pub async fn alert_counts(&self, w: &Window) -> Result<Vec<(String, i64)>, DbError> {
        let w = w.clone();
        on_db!(self, |c| {
            let mut q = alerts::table
                .group_by(alerts::severity)
                .select((alerts::severity, sql::<BigInt>("COUNT(*)")))
                .into_boxed()
                .filter(alerts::raised_ms.ge(w.from_ms))
                .filter(alerts::raised_ms.lt(w.to_ms));
            if let Some(d) = w.devices.clone() {
                q = q.filter(alerts::device_id.eq_any(d));
            }
            q.load::<(String, i64)>(c)
        })
    }

    /// Arrivals of some routes (all: `None`) in a window.
    pub async fn arrivals_in(
        &self,
        routes: Option<Vec<i64>>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<ArrivalRow>, DbError> {
        on_db!(self, |c| {
            let mut q = stop_arrivals::table
                .filter(stop_arrivals::arrived_ms.ge(from_ms))
                .filter(stop_arrivals::arrived_ms.lt(to_ms))
                .into_boxed();
            if let Some(r) = routes.clone() {
                q = q.filter(stop_arrivals::route_id.eq_any(r));
            }
            q.order(stop_arrivals::arrived_ms)
                .select(ArrivalRow::as_select())
                .load(c)
        })
    }
}
