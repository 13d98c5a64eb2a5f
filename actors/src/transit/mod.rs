//! Public transport: routes as ordered stops, stop arrivals detected from a vehicle's fixes,
//! and ETAs from progress along the route and segment times learned from past arrivals.

pub mod eta;
pub mod performance;
pub mod route;

pub use eta::{EtaModel, Prediction};
pub use route::{Progress, RouteDef, RouteEvent, RouteIndex, RouteTracker, SharedRoutes, StopDef};
