//! Geofences: circles, polygons and route corridors, indexed in an R-tree, and a per-entity
//! tracker that turns positions into enter / exit / crossing events with hysteresis.
//!
//! Geometry is in metres on a local plane around each fence (equirectangular; exact enough
//! at city scale, where fences span kilometres, not continents).

use std::collections::HashMap;
use std::sync::Arc;

use geo::{Contains, Coord, Distance, Euclidean, Line, LineString, Point, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::ser::{Serialize, SerializeStruct, Serializer};
use urbanstream_schema::GeofenceId;

/// Mean Earth radius (IUGG), metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A fence's shape, in WGS 84 degrees (x = longitude, y = latitude).
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Circle {
        center: Point<f64>,
        radius_m: f64,
    },
    Polygon(Polygon<f64>),
    /// A polyline and the full width of the band around it.
    Corridor {
        line: LineString<f64>,
        width_m: f64,
    },
}

/// A fence as stored: its shape and how it is watched.
#[derive(Debug, Clone, PartialEq)]
pub struct FenceDef {
    pub id: i64,
    pub name: String,
    pub shape: Shape,
    /// Width of the band around the edge where nothing changes: a vehicle enters when it is
    /// `hysteresis_m / 2` inside and leaves when it is `hysteresis_m / 2` outside, so GPS
    /// drift along the edge does not flap.
    pub hysteresis_m: f64,
    pub speed_limit_kmh: Option<f64>,
}

/// A local plane around an origin: metres east and north.
#[derive(Debug, Clone, Copy)]
struct Plane {
    lon0: f64,
    lat0: f64,
    kx: f64,
    ky: f64,
}

impl Plane {
    fn new(lon0: f64, lat0: f64) -> Self {
        let ky = EARTH_RADIUS_M.to_radians();
        Self {
            lon0,
            lat0,
            kx: ky * lat0.to_radians().cos(),
            ky,
        }
    }

    fn project(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: (c.x - self.lon0) * self.kx,
            y: (c.y - self.lat0) * self.ky,
        }
    }

    /// Degrees of longitude and latitude spanned by `m` metres here.
    fn deg(&self, m: f64) -> (f64, f64) {
        (m / self.kx.max(1.0), m / self.ky)
    }
}

/// A fence ready for queries: its shape projected to metres.
#[derive(Debug, Clone)]
struct Compiled {
    def: FenceDef,
    plane: Plane,
    geom: Local,
}

#[derive(Debug, Clone)]
enum Local {
    Circle { radius_m: f64 },
    Polygon(Polygon<f64>),
    Corridor { line: LineString<f64>, half_m: f64 },
}

impl Compiled {
    fn new(def: FenceDef) -> Option<(Self, AABB<[f64; 2]>)> {
        let bbox = match &def.shape {
            Shape::Circle { center, .. } => geo::Rect::new(center.0, center.0),
            Shape::Polygon(p) => geo::BoundingRect::bounding_rect(p)?,
            Shape::Corridor { line, .. } => geo::BoundingRect::bounding_rect(line)?,
        };
        let c = bbox.center();
        let plane = Plane::new(c.x, c.y);
        let project = |ls: &LineString<f64>| -> LineString<f64> {
            ls.0.iter().map(|&c| plane.project(c)).collect()
        };
        let (geom, reach_m) = match &def.shape {
            Shape::Circle { radius_m, .. } => (
                Local::Circle {
                    radius_m: *radius_m,
                },
                *radius_m,
            ),
            Shape::Polygon(p) => (
                Local::Polygon(Polygon::new(
                    project(p.exterior()),
                    p.interiors().iter().map(project).collect(),
                )),
                0.0,
            ),
            Shape::Corridor { line, width_m } => (
                Local::Corridor {
                    line: project(line),
                    half_m: width_m / 2.0,
                },
                width_m / 2.0,
            ),
        };
        // The envelope holds every point that can change the fence's state.
        let (dx, dy) = plane.deg(reach_m + def.hysteresis_m / 2.0 + 1.0);
        let envelope = AABB::from_corners(
            [bbox.min().x - dx, bbox.min().y - dy],
            [bbox.max().x + dx, bbox.max().y + dy],
        );
        Some((Self { def, plane, geom }, envelope))
    }

    /// Signed distance from the edge, metres: negative inside.
    fn signed_distance(&self, lon: f64, lat: f64) -> f64 {
        let p = Point(self.plane.project(Coord { x: lon, y: lat }));
        match &self.geom {
            Local::Circle { radius_m } => Euclidean.distance(&p, &Point::new(0.0, 0.0)) - radius_m,
            Local::Polygon(poly) => {
                if poly.contains(&p) {
                    let mut d = Euclidean.distance(&p, poly.exterior());
                    for hole in poly.interiors() {
                        d = d.min(Euclidean.distance(&p, hole));
                    }
                    -d
                } else {
                    Euclidean.distance(&p, poly)
                }
            }
            Local::Corridor { line, half_m } => Euclidean.distance(&p, line) - half_m,
        }
    }

    /// Whether the straight path between two fixes passes through the fence.
    fn path_touches(&self, from: (f64, f64), to: (f64, f64)) -> bool {
        let seg = Line::new(
            self.plane.project(Coord {
                x: from.0,
                y: from.1,
            }),
            self.plane.project(Coord { x: to.0, y: to.1 }),
        );
        match &self.geom {
            Local::Circle { radius_m } => {
                Euclidean.distance(&seg, &Point::new(0.0, 0.0)) < *radius_m
            }
            Local::Polygon(poly) => Euclidean.distance(&seg, poly) <= 0.0,
            Local::Corridor { line, half_m } => Euclidean.distance(&seg, line) < *half_m,
        }
    }
}

/// Every fence, in an R-tree of their envelopes.
#[derive(Default)]
pub struct FenceIndex {
    fences: Vec<Compiled>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    by_id: HashMap<i64, usize>,
}

impl FenceIndex {
    /// Builds the index; fences with an empty shape are left out.
    pub fn new(defs: impl IntoIterator<Item = FenceDef>) -> Self {
        let mut fences = Vec::new();
        let mut boxes = Vec::new();
        for def in defs {
            if let Some((c, env)) = Compiled::new(def) {
                boxes.push(GeomWithData::new(
                    Rectangle::from_corners(env.lower(), env.upper()),
                    fences.len(),
                ));
                fences.push(c);
            }
        }
        let by_id = fences
            .iter()
            .enumerate()
            .map(|(i, f)| (f.def.id, i))
            .collect();
        Self {
            fences,
            tree: RTree::bulk_load(boxes),
            by_id,
        }
    }

    pub fn len(&self) -> usize {
        self.fences.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fences.is_empty()
    }

    pub fn get(&self, id: i64) -> Option<&FenceDef> {
        self.by_id.get(&id).map(|&i| &self.fences[i].def)
    }

    /// Ids of the fences that contain the point (no hysteresis).
    pub fn containing(&self, lat: f64, lon: f64) -> Vec<i64> {
        self.tree
            .locate_all_at_point(&[lon, lat])
            .map(|g| &self.fences[g.data])
            .filter(|f| f.signed_distance(lon, lat) <= 0.0)
            .map(|f| f.def.id)
            .collect()
    }
}

/// The fence index every vehicle reads, replaced whole when fences change.
pub type SharedFences = crate::shared::Swap<FenceIndex>;

/// What a position did to a fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceChange {
    Entered,
    /// `dwell_ms`: time inside, device time.
    Exited {
        dwell_ms: i64,
    },
    /// Two fixes on either side, neither inside: the entity passed through between them.
    Crossed,
}

/// The one fence event: made by the tracker, carried by the entity's events, read by the
/// rules and stored as it serializes (`at`, `fence`, `name`, and `dwell_s` on exits).
#[derive(Debug, Clone, PartialEq)]
pub struct FenceEvent {
    pub change: FenceChange,
    pub fence: GeofenceId,
    /// The fence's name when the event happened.
    pub name: Arc<str>,
    /// Device time.
    pub at_ms: i64,
}

impl FenceEvent {
    pub fn at(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.at_ms).unwrap_or_default()
    }
}

impl Serialize for FenceEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let dwell = match self.change {
            FenceChange::Exited { dwell_ms } => Some(dwell_ms as f64 / 1000.0),
            _ => None,
        };
        let mut st = s.serialize_struct("FenceEvent", 3 + usize::from(dwell.is_some()))?;
        st.serialize_field("at", &self.at())?;
        st.serialize_field("fence", &self.fence)?;
        st.serialize_field("name", &*self.name)?;
        if let Some(d) = dwell {
            st.serialize_field("dwell_s", &d)?;
        }
        st.end()
    }
}

/// One entity's fence state.
#[derive(Debug, Clone, Default)]
pub struct FenceTracker {
    /// Fences the vehicle is inside, since when (device time).
    inside: HashMap<i64, i64>,
    last: Option<(i64, f64, f64)>,
    /// Fences near the last fix and its signed distance to each (index, metres).
    near_last: Vec<(usize, f64)>,
    near_now: Vec<(usize, f64)>,
}

impl FenceTracker {
    /// The lowest speed limit among the fences the vehicle is in (by the same hysteresis
    /// as its enter and exit events), and that fence.
    pub fn speed_limit(&self, index: &FenceIndex) -> Option<(f64, GeofenceId)> {
        self.inside
            .keys()
            .filter_map(|id| Some((index.get(*id)?.speed_limit_kmh?, *id)))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(limit, id)| (limit, GeofenceId(id)))
    }

    /// Takes the next fix in device time; returns what changed.
    pub fn observe(
        &mut self,
        index: &FenceIndex,
        at_ms: i64,
        lat: f64,
        lon: f64,
    ) -> Vec<FenceEvent> {
        let mut events = Vec::new();
        self.near_now.clear();
        for g in index.tree.locate_all_at_point(&[lon, lat]) {
            let f = &index.fences[g.data];
            let id = f.def.id;
            let d = f.signed_distance(lon, lat);
            self.near_now.push((g.data, d));
            let band = f.def.hysteresis_m / 2.0;
            match self.inside.get(&id) {
                None if d <= -band => {
                    self.inside.insert(id, at_ms);
                    events.push(event(index, FenceChange::Entered, id, at_ms));
                }
                Some(&since) if d >= band => {
                    self.inside.remove(&id);
                    events.push(exit(index, id, since, at_ms));
                }
                _ => {}
            }
        }
        // Far from a fence it was inside (outside its envelope): it left.
        if self.inside.len() > events.len() {
            let near = &self.near_now;
            let gone: Vec<(i64, i64)> = self
                .inside
                .iter()
                .filter(|(id, _)| !near.iter().any(|&(i, _)| index.fences[i].def.id == **id))
                .map(|(&id, &since)| (id, since))
                .collect();
            for (id, since) in gone {
                self.inside.remove(&id);
                events.push(exit(index, id, since, at_ms));
            }
        }
        if let Some((t0, lat0, lon0)) = self.last {
            self.crossings(index, (t0, lat0, lon0), (at_ms, lat, lon), &mut events);
        }
        self.last = Some((at_ms, lat, lon));
        std::mem::swap(&mut self.near_last, &mut self.near_now);
        events
    }

    /// Fences the straight path between two fixes went through while neither fix counted
    /// inside. A path of length L can only touch a fence when the two fixes' distances to it
    /// add up to at most L, which rules out nearly every candidate without geometry.
    fn crossings(
        &self,
        index: &FenceIndex,
        (t0, lat0, lon0): (i64, f64, f64),
        (t1, lat1, lon1): (i64, f64, f64),
        events: &mut Vec<FenceEvent>,
    ) {
        let plane = Plane::new(lon0, lat0);
        let step = plane.project(Coord { x: lon1, y: lat1 });
        let step_m = step.x.hypot(step.y);
        let env = AABB::from_corners(
            [lon0.min(lon1), lat0.min(lat1)],
            [lon0.max(lon1), lat0.max(lat1)],
        );
        for g in index.tree.locate_in_envelope_intersecting(&env) {
            let f = &index.fences[g.data];
            let id = f.def.id;
            if self.inside.contains_key(&id)
                || events
                    .iter()
                    .any(|e| e.fence.0 == id && e.change != FenceChange::Crossed)
            {
                continue;
            }
            let known =
                |list: &[(usize, f64)]| list.iter().find(|&&(i, _)| i == g.data).map(|&(_, d)| d);
            let d1 = known(&self.near_now).unwrap_or_else(|| f.signed_distance(lon1, lat1));
            if d1 <= 0.0 {
                continue;
            }
            let d0 = known(&self.near_last).unwrap_or_else(|| f.signed_distance(lon0, lat0));
            if d0 > 0.0 && d0 + d1 <= step_m && f.path_touches((lon0, lat0), (lon1, lat1)) {
                events.push(event(index, FenceChange::Crossed, id, t0 + (t1 - t0) / 2));
            }
        }
    }
}

/// Left `fence`, inside since `since_ms`.
fn exit(index: &FenceIndex, fence: i64, since_ms: i64, at_ms: i64) -> FenceEvent {
    let dwell_ms = at_ms - since_ms;
    event(index, FenceChange::Exited { dwell_ms }, fence, at_ms)
}

fn event(index: &FenceIndex, change: FenceChange, fence: i64, at_ms: i64) -> FenceEvent {
    let name = index
        .get(fence)
        .map_or_else(|| Arc::from(""), |f| Arc::from(f.name.as_str()));
    FenceEvent {
        change,
        fence: GeofenceId(fence),
        name,
        at_ms,
    }
}

#[cfg(test)]
mod tests;
