//! Geometry shared by entities and aggregators: geofences (circles, polygons, corridors),
//! their R-tree index, the per-entity fence tracker, GeoJSON in and out, and distances.
//! It knows no device and no actor.

mod fence;
pub mod geojson;

pub use fence::{FenceChange, FenceDef, FenceEvent, FenceIndex, FenceTracker, Shape, SharedFences};

/// Radius used for distances between consecutive fixes, metres.
const EARTH_RADIUS_M: f64 = 6_371_000.0;

/// Great-circle distance in metres between two (lat, lon) points in degrees.
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}
