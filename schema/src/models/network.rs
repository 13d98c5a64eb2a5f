//! Rows of trips, stays and the transit network (routes, stops, timetables, arrivals).

use diesel::prelude::*;
use serde::Serialize;

use crate::schema::{
    route_assignments, route_schedules, route_stops, routes, stop_arrivals, stops, trips,
    vehicle_stops,
};

/// One trip of a vehicle, as its actor closed it.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = trips)]
pub struct TripRow {
    pub device_id: i64,
    /// The vehicle the tracker rode in at the time.
    pub vehicle_id: Option<i64>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub distance_m: f64,
    pub duration_s: i64,
    pub max_speed_kmh: f64,
    /// Engine on, standing, within the trip.
    pub idle_s: f64,
    pub fuel_used_l: Option<f64>,
    pub start_lat: Option<f64>,
    pub start_lon: Option<f64>,
    pub end_lat: Option<f64>,
    pub end_lon: Option<f64>,
}

/// A stay between two trips.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = vehicle_stops)]
pub struct VehicleStopRow {
    pub device_id: i64,
    /// The vehicle the tracker rode in at the time.
    pub vehicle_id: Option<i64>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub duration_s: i64,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = routes)]
pub struct RouteRow {
    pub id: i64,
    pub number: String,
    pub name: String,
    /// `#RRGGBB`.
    pub colour: String,
    pub active: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset)]
#[diesel(table_name = routes)]
pub struct RouteData {
    pub number: String,
    pub name: String,
    pub colour: String,
    pub active: bool,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = stops)]
pub struct StopRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    /// A vehicle within this distance is at the stop.
    pub radius_m: f64,
    pub shelter: bool,
    /// Has a passenger display.
    pub display: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset)]
#[diesel(table_name = stops)]
pub struct StopData {
    pub code: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
    pub shelter: bool,
    pub display: bool,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = route_stops)]
pub struct RouteStopRow {
    pub route_id: i64,
    pub seq: i32,
    pub stop_id: i64,
    pub offset_s: i32,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = route_schedules)]
pub struct ScheduleRow {
    pub id: i64,
    pub route_id: i64,
    /// Departure from the first stop, seconds after midnight UTC.
    pub departure_s: i32,
    /// Bit 0 Monday … bit 6 Sunday.
    pub days: i32,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = route_schedules)]
pub struct NewSchedule {
    pub route_id: i64,
    pub departure_s: i32,
    pub days: i32,
}

#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = route_assignments)]
pub struct AssignmentRow {
    pub vehicle_id: i64,
    pub route_id: i64,
    pub assigned_ms: i64,
}

/// A vehicle at a stop of its route: when it came, when it left.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = stop_arrivals)]
pub struct ArrivalRow {
    pub device_id: i64,
    /// The vehicle the tracker rode in at the time.
    pub vehicle_id: Option<i64>,
    pub route_id: i64,
    pub stop_id: i64,
    /// The stop's place in the route (0 = first).
    pub seq: i32,
    pub arrived_ms: i64,
    pub departed_ms: Option<i64>,
    pub dwell_s: Option<f64>,
}
