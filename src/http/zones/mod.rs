//! Zones (`/api/v1/zones`): polygons on the site's floor plan (metres) whose entries, exits
//! and dwell are recorded for every tracked person.

pub mod crud;

use serde::{Deserialize, Serialize};
use urbanstream_schema::models::{NewZone, ZoneRow};
use utoipa::ToSchema;

use super::{ApiError, HttpState};

/// A zone as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Zone {
    pub id: i64,
    pub environment: String,
    pub name: String,
    /// A free label (`area`, `entrance`, `queue`, …).
    pub kind: String,
    /// Corners `[[x, y], …]` in metres.
    pub polygon: Vec<[f64; 2]>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl Zone {
    pub fn from_row(r: &ZoneRow) -> Self {
        Self {
            id: r.id,
            environment: r.environment.clone(),
            name: r.name.clone(),
            kind: r.kind.clone(),
            polygon: serde_json::from_str(&r.polygon).unwrap_or_default(),
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneList {
    pub items: Vec<Zone>,
}

/// A zone to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneBody {
    pub name: String,
    #[serde(default)]
    pub kind: Option<String>,
    /// At least three corners `[[x, y], …]` in metres, not self-intersecting.
    pub polygon: Vec<[f64; 2]>,
}

/// Most corners a zone may have.
const MAX_CORNERS: usize = 256;

impl ZoneBody {
    fn validate(self, environment: &str, now: i64) -> Result<NewZone, ApiError> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(ApiError::BadRequest(
                "name must be 1 to 100 characters".into(),
            ));
        }
        let kind = self.kind.unwrap_or_else(|| "area".into());
        if kind.is_empty() || kind.len() > 40 {
            return Err(ApiError::BadRequest(
                "kind must be 1 to 40 characters".into(),
            ));
        }
        let p = &self.polygon;
        if p.len() < 3 || p.len() > MAX_CORNERS {
            return Err(ApiError::BadRequest(format!(
                "polygon needs 3 to {MAX_CORNERS} corners"
            )));
        }
        if p.iter().flatten().any(|v| !v.is_finite()) {
            return Err(ApiError::BadRequest(
                "polygon corners must be finite numbers".into(),
            ));
        }
        let area2: f64 = (0..p.len())
            .map(|i| {
                let (a, b) = (p[i], p[(i + 1) % p.len()]);
                a[0] * b[1] - b[0] * a[1]
            })
            .sum();
        if area2.abs() < 1e-9 {
            return Err(ApiError::BadRequest("polygon has no area".into()));
        }
        if self_intersects(p) {
            return Err(ApiError::BadRequest("polygon crosses itself".into()));
        }
        Ok(NewZone {
            environment: environment.to_owned(),
            name: name.to_owned(),
            kind,
            polygon: serde_json::to_string(p).unwrap_or_default(),
            created_ms: now,
            updated_ms: now,
        })
    }
}

/// Whether two non-adjacent edges of the closed polygon cross.
fn self_intersects(p: &[[f64; 2]]) -> bool {
    let n = p.len();
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    for i in 0..n {
        for j in i + 1..n {
            if j == i + 1 || (i == 0 && j == n - 1) {
                continue;
            }
            let (a, b, c, d) = (p[i], p[(i + 1) % n], p[j], p[(j + 1) % n]);
            let (d1, d2) = (cross(c, d, a), cross(c, d, b));
            let (d3, d4) = (cross(a, b, c), cross(a, b, d));
            if d1 * d2 < 0.0 && d3 * d4 < 0.0 {
                return true;
            }
        }
    }
    false
}

/// Zones changed: the recorder follows.
async fn reload(state: &HttpState) -> Result<(), ApiError> {
    if let Some(s) = &state.sessions {
        s.reload_zones().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(p: Vec<[f64; 2]>) -> ZoneBody {
        ZoneBody {
            name: "z".into(),
            kind: None,
            polygon: p,
        }
    }

    #[test]
    fn zones_need_a_simple_polygon_with_area() {
        let square = vec![[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]];
        assert!(body(square).validate("site", 1).is_ok());
        let bowtie = vec![[0.0, 0.0], [2.0, 2.0], [2.0, 0.0], [0.0, 2.0]];
        assert!(body(bowtie).validate("site", 1).is_err());
        let line = vec![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]];
        assert!(body(line).validate("site", 1).is_err());
        assert!(body(vec![[0.0, 0.0], [1.0, 0.0]])
            .validate("site", 1)
            .is_err());
        assert!(body(vec![[0.0, 0.0], [1.0, f64::NAN], [0.0, 1.0]])
            .validate("site", 1)
            .is_err());
    }
}
