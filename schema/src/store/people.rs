//! Zones, tracking sessions and the people they recorded, written once for both backends.

use std::collections::HashSet;

use diesel::{BoolExpressionMethods, ExpressionMethods, QueryDsl, SelectableHelper};

use super::{optional, DbError, Store};
use crate::models::{
    AppearanceRow, NewSession, NewZone, PersonRow, SessionRow, SightingRow, TrajectoryPointRow,
    ZoneEventRow, ZoneRow,
};
use crate::schema::{
    person_appearances, person_identities, person_sightings, tracking_sessions, trajectory_points,
    zone_events, zones,
};

/// Detections of one node stream in one time bucket.
#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct DetectionCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub node_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub stream_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub bucket_ms: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

/// Session states as stored.
pub const SESSION_RUNNING: &str = "running";
pub const SESSION_PAUSED: &str = "paused";
pub const SESSION_STOPPED: &str = "stopped";

/// Which recorded people a search asks for. Times select people seen at some moment of
/// `[from_ms, to_ms]`; camera and zone, people a camera saw or who entered a zone.
#[derive(Debug, Clone, Default)]
pub struct PersonFilter {
    pub session_id: Option<i64>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub camera: Option<i32>,
    pub zone_id: Option<i64>,
    pub limit: i64,
}

impl Store {
    pub async fn zones(&self, environment: Option<String>) -> Result<Vec<ZoneRow>, DbError> {
        on_db!(self, |c| {
            let mut q = zones::table
                .order(zones::id)
                .select(ZoneRow::as_select())
                .into_boxed();
            if let Some(e) = environment.clone() {
                q = q.filter(zones::environment.eq(e));
            }
            q.load(c)
        })
    }

    pub async fn zone(&self, id: i64) -> Result<Option<ZoneRow>, DbError> {
        optional(on_db!(self, |c| zones::table
            .find(id)
            .select(ZoneRow::as_select())
            .first(c)))
    }

    pub async fn create_zone(&self, zone: NewZone) -> Result<ZoneRow, DbError> {
        on_db!(self, |c| diesel::insert_into(zones::table)
            .values(zone.clone())
            .returning(ZoneRow::as_returning())
            .get_result(c))
    }

    /// Replaces a zone's name, kind and polygon; `None` when there is none.
    pub async fn replace_zone(&self, id: i64, zone: NewZone) -> Result<Option<ZoneRow>, DbError> {
        let n = on_db!(self, |c| diesel::update(zones::table.find(id))
            .set((
                zones::name.eq(zone.name.clone()),
                zones::kind.eq(zone.kind.clone()),
                zones::polygon.eq(zone.polygon.clone()),
                zones::updated_ms.eq(zone.updated_ms),
            ))
            .execute(c))?;
        if n == 0 {
            return Ok(None);
        }
        self.zone(id).await
    }

    pub async fn delete_zone(&self, id: i64) -> Result<bool, DbError> {
        let n = on_db!(self, |c| diesel::delete(zones::table.find(id)).execute(c))?;
        Ok(n > 0)
    }

    pub async fn create_session(&self, s: NewSession) -> Result<SessionRow, DbError> {
        on_db!(self, |c| diesel::insert_into(tracking_sessions::table)
            .values(s.clone())
            .returning(SessionRow::as_returning())
            .get_result(c))
    }

    pub async fn session(&self, id: i64) -> Result<Option<SessionRow>, DbError> {
        optional(on_db!(self, |c| tracking_sessions::table
            .find(id)
            .select(SessionRow::as_select())
            .first(c)))
    }

    /// The latest sessions first.
    pub async fn sessions(&self, limit: i64) -> Result<Vec<SessionRow>, DbError> {
        on_db!(self, |c| tracking_sessions::table
            .order(tracking_sessions::id.desc())
            .limit(limit)
            .select(SessionRow::as_select())
            .load(c))
    }

    /// Sets a session's state (and its end, when it stops); `None` when there is none.
    pub async fn set_session_state(
        &self,
        id: i64,
        state: &'static str,
        now_ms: i64,
    ) -> Result<Option<SessionRow>, DbError> {
        let ended = (state == SESSION_STOPPED).then_some(now_ms);
        let n = on_db!(self, |c| diesel::update(tracking_sessions::table.find(id))
            .set((
                tracking_sessions::state.eq(state),
                tracking_sessions::ended_ms.eq(ended),
                tracking_sessions::updated_ms.eq(now_ms),
            ))
            .execute(c))?;
        if n == 0 {
            return Ok(None);
        }
        self.session(id).await
    }

    /// Stops sessions left open (by a crash or a stop without a clean shutdown); their
    /// identities cannot be continued by a new process. Returns how many were closed.
    pub async fn close_open_sessions(&self, now_ms: i64) -> Result<usize, DbError> {
        on_db!(self, |c| diesel::update(
            tracking_sessions::table.filter(tracking_sessions::state.ne(SESSION_STOPPED))
        )
        .set((
            tracking_sessions::state.eq(SESSION_STOPPED),
            tracking_sessions::ended_ms.eq(Some(now_ms)),
            tracking_sessions::updated_ms.eq(now_ms),
        ))
        .execute(c))
    }

    pub async fn person(&self, id: i64) -> Result<Option<PersonRow>, DbError> {
        optional(on_db!(self, |c| person_identities::table
            .find(id)
            .select(PersonRow::as_select())
            .first(c)))
    }

    /// Recorded people, the latest seen first.
    pub async fn persons(&self, f: PersonFilter) -> Result<Vec<PersonRow>, DbError> {
        // Camera and zone narrow to the (session, identity) pairs that have such a row.
        let mut only: Option<HashSet<(i64, i64)>> = None;
        if let Some(camera) = f.camera {
            let session = f.session_id;
            let pairs: Vec<(i64, i64)> = on_db!(self, |c| {
                let mut q = person_sightings::table
                    .filter(person_sightings::camera.eq(camera))
                    .select((person_sightings::session_id, person_sightings::global_id))
                    .distinct()
                    .into_boxed();
                if let Some(s) = session {
                    q = q.filter(person_sightings::session_id.eq(s));
                }
                q.load(c)
            })?;
            only = Some(pairs.into_iter().collect());
        }
        if let Some(zone) = f.zone_id {
            let session = f.session_id;
            let pairs: Vec<(i64, i64)> = on_db!(self, |c| {
                let mut q = zone_events::table
                    .filter(zone_events::zone_id.eq(zone))
                    .select((zone_events::session_id, zone_events::global_id))
                    .distinct()
                    .into_boxed();
                if let Some(s) = session {
                    q = q.filter(zone_events::session_id.eq(s));
                }
                q.load(c)
            })?;
            let zone_set: HashSet<(i64, i64)> = pairs.into_iter().collect();
            only = Some(match only {
                Some(a) => a.intersection(&zone_set).copied().collect(),
                None => zone_set,
            });
        }
        let narrowed = only.is_some();
        let f2 = f.clone();
        let rows: Vec<PersonRow> = on_db!(self, |c| {
            let mut q = person_identities::table
                .order((
                    person_identities::last_seen_ms.desc(),
                    person_identities::id.desc(),
                ))
                .select(PersonRow::as_select())
                .into_boxed();
            if let Some(s) = f2.session_id {
                q = q.filter(person_identities::session_id.eq(s));
            }
            if let Some(from) = f2.from_ms {
                q = q.filter(person_identities::last_seen_ms.ge(from));
            }
            if let Some(to) = f2.to_ms {
                q = q.filter(person_identities::first_seen_ms.le(to));
            }
            if !narrowed {
                q = q.limit(f2.limit);
            }
            q.load(c)
        })?;
        Ok(match only {
            None => rows,
            Some(set) => rows
                .into_iter()
                .filter(|p| set.contains(&(p.session_id, p.global_id)))
                .take(usize::try_from(f.limit).unwrap_or(0))
                .collect(),
        })
    }

    /// Trajectory points of a session (one identity's, or everyone's), in time order,
    /// within `[from_ms, to_ms]`; at most `limit`.
    pub async fn trajectory(
        &self,
        session_id: i64,
        global_id: Option<i64>,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: i64,
    ) -> Result<Vec<TrajectoryPointRow>, DbError> {
        on_db!(self, |c| {
            let mut q = trajectory_points::table
                .filter(trajectory_points::session_id.eq(session_id))
                .order((trajectory_points::time_ms, trajectory_points::global_id))
                .limit(limit)
                .select(TrajectoryPointRow::as_select())
                .into_boxed();
            if let Some(g) = global_id {
                q = q.filter(trajectory_points::global_id.eq(g));
            }
            if let Some(from) = from_ms {
                q = q.filter(trajectory_points::time_ms.ge(from));
            }
            if let Some(to) = to_ms {
                q = q.filter(trajectory_points::time_ms.le(to));
            }
            q.load(c)
        })
    }

    /// Floor positions recorded in `[from_ms, to_ms]` (of one session, when given).
    pub async fn floor_positions(
        &self,
        session_id: Option<i64>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(f64, f64)>, DbError> {
        on_db!(self, |c| {
            let mut q = trajectory_points::table
                .filter(
                    trajectory_points::time_ms
                        .ge(from_ms)
                        .and(trajectory_points::time_ms.le(to_ms)),
                )
                .select((trajectory_points::x_m, trajectory_points::y_m))
                .into_boxed();
            if let Some(s) = session_id {
                q = q.filter(trajectory_points::session_id.eq(s));
            }
            q.load(c)
        })
    }

    /// One identity's camera sightings, in time order.
    pub async fn sightings(
        &self,
        session_id: i64,
        global_id: i64,
    ) -> Result<Vec<SightingRow>, DbError> {
        on_db!(self, |c| person_sightings::table
            .filter(person_sightings::session_id.eq(session_id))
            .filter(person_sightings::global_id.eq(global_id))
            .order((person_sightings::first_ms, person_sightings::camera))
            .select(SightingRow::as_select())
            .load(c))
    }

    /// Sightings that overlap `[from_ms, to_ms]` (of one session, when given).
    pub async fn sightings_between(
        &self,
        session_id: Option<i64>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<SightingRow>, DbError> {
        on_db!(self, |c| {
            let mut q = person_sightings::table
                .filter(person_sightings::last_ms.ge(from_ms))
                .filter(person_sightings::first_ms.le(to_ms))
                .order(person_sightings::first_ms)
                .select(SightingRow::as_select())
                .into_boxed();
            if let Some(s) = session_id {
                q = q.filter(person_sightings::session_id.eq(s));
            }
            q.load(c)
        })
    }

    /// Zone entries and exits: one identity's, or every one of a zone or session, in time
    /// order within `[from_ms, to_ms]`.
    pub async fn zone_events(
        &self,
        session_id: Option<i64>,
        global_id: Option<i64>,
        zone_id: Option<i64>,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> Result<Vec<ZoneEventRow>, DbError> {
        on_db!(self, |c| {
            let mut q = zone_events::table
                .order((zone_events::time_ms, zone_events::global_id))
                .select(ZoneEventRow::as_select())
                .into_boxed();
            if let Some(s) = session_id {
                q = q.filter(zone_events::session_id.eq(s));
            }
            if let Some(g) = global_id {
                q = q.filter(zone_events::global_id.eq(g));
            }
            if let Some(z) = zone_id {
                q = q.filter(zone_events::zone_id.eq(z));
            }
            if let Some(from) = from_ms {
                q = q.filter(zone_events::time_ms.ge(from));
            }
            if let Some(to) = to_ms {
                q = q.filter(zone_events::time_ms.le(to));
            }
            q.load(c)
        })
    }

    /// Detections of one object type in `[from_ms, to_ms)`, counted per node, stream and
    /// `bucket_ms` bucket (by the database).
    pub async fn detection_counts(
        &self,
        object_type: &str,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<DetectionCount>, DbError> {
        use diesel::sql_types::{BigInt, Text};
        let object_type = object_type.to_owned();
        let sql = |p: [&str; 4]| {
            format!(
                "SELECT node_id, stream_id, (time_ms / {b}) * {b} AS bucket_ms, COUNT(*) AS n FROM detections \
                 WHERE object_type = {o} AND time_ms >= {f} AND time_ms < {t} \
                 GROUP BY node_id, stream_id, (time_ms / {b}) * {b} ORDER BY bucket_ms, node_id, stream_id",
                b = p[0], o = p[1], f = p[2], t = p[3]
            )
        };
        match self {
            Store::Postgres(_) => {
                let q = sql(["$1", "$2", "$3", "$4"]);
                on_db!(self, |c| diesel::sql_query(q.clone())
                    .bind::<BigInt, _>(bucket_ms)
                    .bind::<Text, _>(object_type.clone())
                    .bind::<BigInt, _>(from_ms)
                    .bind::<BigInt, _>(to_ms)
                    .load::<DetectionCount>(c))
            }
            Store::Sqlite(_) => {
                // SQLite numbers `?NNN` parameters, so the bucket can be used twice.
                let q = sql(["?1", "?2", "?3", "?4"]);
                on_db!(self, |c| diesel::sql_query(q.clone())
                    .bind::<BigInt, _>(bucket_ms)
                    .bind::<Text, _>(object_type.clone())
                    .bind::<BigInt, _>(from_ms)
                    .bind::<BigInt, _>(to_ms)
                    .load::<DetectionCount>(c))
            }
        }
    }

    /// Removes trajectory points older than `cutoff_ms` (people data keeps a retention of
    /// its own).
    pub async fn drop_trajectories_before(&self, cutoff_ms: i64) -> Result<u64, DbError> {
        let n = on_db!(self, |c| diesel::delete(
            trajectory_points::table.filter(trajectory_points::time_ms.lt(cutoff_ms))
        )
        .execute(c))?;
        let m = on_db!(self, |c| diesel::delete(
            person_appearances::table.filter(person_appearances::updated_ms.lt(cutoff_ms))
        )
        .execute(c))?;
        Ok((n + m) as u64)
    }

    /// Learnt appearances (of one session, when given), at most `limit`, the latest first.
    pub async fn appearances(
        &self,
        session_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AppearanceRow>, DbError> {
        on_db!(self, |c| {
            let mut q = person_appearances::table
                .order(person_appearances::updated_ms.desc())
                .limit(limit)
                .select(AppearanceRow::as_select())
                .into_boxed();
            if let Some(s) = session_id {
                q = q.filter(person_appearances::session_id.eq(s));
            }
            q.load(c)
        })
    }

    /// One identity's learnt appearance.
    pub async fn appearance(
        &self,
        session_id: i64,
        global_id: i64,
    ) -> Result<Option<AppearanceRow>, DbError> {
        optional(on_db!(self, |c| person_appearances::table
            .filter(person_appearances::session_id.eq(session_id))
            .filter(person_appearances::global_id.eq(global_id))
            .select(AppearanceRow::as_select())
            .first(c)))
    }

    /// The recorded identities with these `(session, global id)` keys.
    pub async fn persons_by_keys(&self, keys: Vec<(i64, i64)>) -> Result<Vec<PersonRow>, DbError> {
        let sessions: Vec<i64> = keys
            .iter()
            .map(|k| k.0)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let rows: Vec<PersonRow> = on_db!(self, |c| person_identities::table
            .filter(person_identities::session_id.eq_any(&sessions))
            .select(PersonRow::as_select())
            .load(c))?;
        let wanted: HashSet<(i64, i64)> = keys.into_iter().collect();
        Ok(rows
            .into_iter()
            .filter(|r| wanted.contains(&(r.session_id, r.global_id)))
            .collect())
    }
}
