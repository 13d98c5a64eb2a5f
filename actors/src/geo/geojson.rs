//! Geofences in and out of GeoJSON (RFC 7946): a Point with `radius_m` is a circle, a
//! Polygon a polygon, a LineString with `width_m` a corridor.

use geo::{Coord, LineString, Point, Polygon};
use serde_json::{json, Value};
use urbanstream_schema::models::GeofenceRow;

use super::fence::{FenceDef, Shape};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeoJsonError {
    #[error(
        "geometry must be a GeoJSON Point (with radius_m), Polygon or LineString (with width_m)"
    )]
    UnknownType,
    #[error("coordinates: {0}")]
    Coordinates(String),
    #[error("{0}")]
    Parameter(String),
}

fn position(v: &Value) -> Result<Coord<f64>, GeoJsonError> {
    let a = v
        .as_array()
        .filter(|a| a.len() >= 2)
        .ok_or_else(|| GeoJsonError::Coordinates("a position is [longitude, latitude]".into()))?;
    let (x, y) = (a[0].as_f64(), a[1].as_f64());
    match (x, y) {
        (Some(x), Some(y)) if (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y) => {
            Ok(Coord { x, y })
        }
        _ => Err(GeoJsonError::Coordinates(
            "longitude must be within ±180 and latitude within ±90".into(),
        )),
    }
}

fn line(v: &Value, min: usize) -> Result<LineString<f64>, GeoJsonError> {
    let pts = v
        .as_array()
        .ok_or_else(|| GeoJsonError::Coordinates("expected an array of positions".into()))?
        .iter()
        .map(position)
        .collect::<Result<Vec<_>, _>>()?;
    if pts.len() < min {
        return Err(GeoJsonError::Coordinates(format!(
            "at least {min} positions"
        )));
    }
    Ok(LineString::from(pts))
}

fn ring(v: &Value) -> Result<LineString<f64>, GeoJsonError> {
    let r = line(v, 4)?;
    if r.0.first() != r.0.last() {
        return Err(GeoJsonError::Coordinates(
            "a polygon ring must end where it starts".into(),
        ));
    }
    Ok(r)
}

fn positive(name: &str, v: Option<f64>) -> Result<f64, GeoJsonError> {
    match v {
        Some(x) if x > 0.0 && x.is_finite() && x <= 100_000.0 => Ok(x),
        _ => Err(GeoJsonError::Parameter(format!(
            "{name} must be a number of metres in (0, 100000]"
        ))),
    }
}

/// The shape and its kind (`circle`, `polygon`, `corridor`) from a GeoJSON geometry.
pub fn shape_from_geojson(
    geometry: &Value,
    radius_m: Option<f64>,
    width_m: Option<f64>,
) -> Result<(&'static str, Shape), GeoJsonError> {
    let coords = &geometry["coordinates"];
    match geometry["type"].as_str() {
        Some("Point") => Ok((
            "circle",
            Shape::Circle {
                center: Point(position(coords)?),
                radius_m: positive("radius_m", radius_m)?,
            },
        )),
        Some("Polygon") => {
            let rings = coords
                .as_array()
                .filter(|r| !r.is_empty())
                .ok_or_else(|| GeoJsonError::Coordinates("a polygon needs its rings".into()))?;
            let outer = ring(&rings[0])?;
            let holes = rings[1..].iter().map(ring).collect::<Result<Vec<_>, _>>()?;
            Ok(("polygon", Shape::Polygon(Polygon::new(outer, holes))))
        }
        Some("LineString") => Ok((
            "corridor",
            Shape::Corridor {
                line: line(coords, 2)?,
                width_m: positive("width_m", width_m)?,
            },
        )),
        _ => Err(GeoJsonError::UnknownType),
    }
}

/// A stored fence as the index takes it.
pub fn fence_def(row: &GeofenceRow) -> Result<FenceDef, GeoJsonError> {
    let geometry: Value = serde_json::from_str(&row.geometry)
        .map_err(|e| GeoJsonError::Coordinates(e.to_string()))?;
    let (_, shape) = shape_from_geojson(&geometry, row.radius_m, row.width_m)?;
    Ok(FenceDef {
        id: row.id,
        name: row.name.clone(),
        shape,
        hysteresis_m: row.hysteresis_m,
        speed_limit_kmh: row.speed_limit_kmh,
    })
}

/// A stored fence as a GeoJSON Feature.
pub fn feature(row: &GeofenceRow) -> Value {
    let geometry: Value = serde_json::from_str(&row.geometry).unwrap_or(Value::Null);
    json!({
        "type": "Feature",
        "id": row.id,
        "geometry": geometry,
        "properties": {
            "name": row.name,
            "kind": row.kind,
            "radius_m": row.radius_m,
            "width_m": row.width_m,
            "hysteresis_m": row.hysteresis_m,
            "speed_limit_kmh": row.speed_limit_kmh,
            "created_ms": row.created_ms,
            "updated_ms": row.updated_ms,
        }
    })
}

/// The index of every stored fence; fences that no longer parse are skipped with a warning.
pub fn index(rows: &[GeofenceRow]) -> super::FenceIndex {
    super::FenceIndex::new(rows.iter().filter_map(|r| match fence_def(r) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(fence = r.id, "geofence skipped: {e}");
            None
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometries_map_to_shapes_and_bad_ones_are_named() {
        let point = json!({"type": "Point", "coordinates": [17.19, 44.77]});
        assert_eq!(
            shape_from_geojson(&point, Some(100.0), None).unwrap().0,
            "circle"
        );
        assert!(matches!(
            shape_from_geojson(&point, None, None),
            Err(GeoJsonError::Parameter(_))
        ));
        let poly = json!({"type": "Polygon", "coordinates": [[[17.0, 44.0], [17.1, 44.0], [17.1, 44.1], [17.0, 44.0]]]});
        assert_eq!(shape_from_geojson(&poly, None, None).unwrap().0, "polygon");
        let open = json!({"type": "Polygon", "coordinates": [[[17.0, 44.0], [17.1, 44.0], [17.1, 44.1], [17.0, 44.1]]]});
        assert!(matches!(
            shape_from_geojson(&open, None, None),
            Err(GeoJsonError::Coordinates(_))
        ));
        let line = json!({"type": "LineString", "coordinates": [[17.0, 44.0], [17.1, 44.0]]});
        assert_eq!(
            shape_from_geojson(&line, None, Some(30.0)).unwrap().0,
            "corridor"
        );
        let far = json!({"type": "Point", "coordinates": [190.0, 44.0]});
        assert!(shape_from_geojson(&far, Some(1.0), None).is_err());
        assert_eq!(
            shape_from_geojson(&json!({"type": "MultiPoint"}), None, None),
            Err(GeoJsonError::UnknownType)
        );
    }
}
