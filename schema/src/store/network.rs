//! Routes, stops, timetables, assignments and arrivals, written once for both backends.

use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};

use super::{optional, DbError, Store};
use crate::models::{
    ArrivalRow, AssignmentRow, NewSchedule, RouteData, RouteRow, RouteStopRow, ScheduleRow,
    StopData, StopRow,
};
use crate::schema::{
    route_assignments, route_schedules, route_stops, routes, stop_arrivals, stops,
};

/// Everything the route index is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub routes: Vec<RouteRow>,
    pub stops: Vec<StopRow>,
    pub route_stops: Vec<RouteStopRow>,
    pub assignments: Vec<AssignmentRow>,
}

impl Store {
    pub async fn network(&self) -> Result<Network, DbError> {
        Ok(Network {
            routes: self.routes().await?,
            stops: self.stops().await?,
            route_stops: on_db!(self, |c| route_stops::table
                .order((route_stops::route_id, route_stops::seq))
                .select(RouteStopRow::as_select())
                .load(c))?,
            assignments: on_db!(self, |c| route_assignments::table
                .order(route_assignments::vehicle_id)
                .select(AssignmentRow::as_select())
                .load(c))?,
        })
    }

    pub async fn routes(&self) -> Result<Vec<RouteRow>, DbError> {
        on_db!(self, |c| routes::table
            .order(routes::id)
            .select(RouteRow::as_select())
            .load(c))
    }

    pub async fn route(&self, id: i64) -> Result<Option<RouteRow>, DbError> {
        optional(on_db!(self, |c| routes::table
            .find(id)
            .select(RouteRow::as_select())
            .first(c)))
    }

    pub async fn create_route(&self, data: RouteData) -> Result<RouteRow, DbError> {
        let created = data.updated_ms;
        on_db!(self, |c| diesel::insert_into(routes::table)
            .values((data.clone(), routes::created_ms.eq(created)))
            .returning(RouteRow::as_returning())
            .get_result(c))
    }

    pub async fn update_route(
        &self,
        id: i64,
        data: RouteData,
    ) -> Result<Option<RouteRow>, DbError> {
        optional(on_db!(self, |c| diesel::update(routes::table.find(id))
            .set(data.clone())
            .returning(RouteRow::as_returning())
            .get_result(c)))
    }

    pub async fn delete_route(&self, id: i64) -> Result<bool, DbError> {
        Ok(on_db!(self, |c| diesel::delete(routes::table.find(id)).execute(c))? == 1)
    }

    pub async fn stops(&self) -> Result<Vec<StopRow>, DbError> {
        on_db!(self, |c| stops::table
            .order(stops::id)
            .select(StopRow::as_select())
            .load(c))
    }

    pub async fn stop(&self, id: i64) -> Result<Option<StopRow>, DbError> {
        optional(on_db!(self, |c| stops::table
            .find(id)
            .select(StopRow::as_select())
            .first(c)))
    }

    pub async fn create_stop(&self, data: StopData) -> Result<StopRow, DbError> {
        let created = data.updated_ms;
        on_db!(self, |c| diesel::insert_into(stops::table)
            .values((data.clone(), stops::created_ms.eq(created)))
            .returning(StopRow::as_returning())
            .get_result(c))
    }

    pub async fn update_stop(&self, id: i64, data: StopData) -> Result<Option<StopRow>, DbError> {
        optional(on_db!(self, |c| diesel::update(stops::table.find(id))
            .set(data.clone())
            .returning(StopRow::as_returning())
            .get_result(c)))
    }

    /// Deletes a stop; a stop still on a route is refused by the database (a query error).
    pub async fn delete_stop(&self, id: i64) -> Result<bool, DbError> {
        Ok(on_db!(self, |c| diesel::delete(stops::table.find(id)).execute(c))? == 1)
    }

    /// A route's stops in order, with their timetable offsets.
    pub async fn route_stops(
        &self,
        route_id: i64,
    ) -> Result<Vec<(RouteStopRow, StopRow)>, DbError> {
        on_db!(self, |c| route_stops::table
            .inner_join(stops::table)
            .filter(route_stops::route_id.eq(route_id))
            .order(route_stops::seq)
            .select((RouteStopRow::as_select(), StopRow::as_select()))
            .load(c))
    }

    /// Replaces a route's stop list (in order) in one transaction.
    pub async fn set_route_stops(
        &self,
        route_id: i64,
        list: Vec<RouteStopRow>,
    ) -> Result<(), DbError> {
        match self {
            Store::Postgres(s) => {
                use diesel_async::{AsyncConnection, RunQueryDsl};
                let mut conn = s.conn().await?;
                let c0: &mut diesel_async::AsyncPgConnection = &mut conn;
                c0.transaction::<_, diesel::result::Error, _>(async move |c| {
                    diesel::delete(route_stops::table.filter(route_stops::route_id.eq(route_id)))
                        .execute(c)
                        .await?;
                    diesel::insert_into(route_stops::table)
                        .values(&list)
                        .execute(c)
                        .await?;
                    Ok(())
                })
                .await
                .map_err(DbError::from)
            }
            Store::Sqlite(s) => {
                s.run(move |c| {
                    use diesel::{Connection, RunQueryDsl};
                    c.transaction::<_, diesel::result::Error, _>(|c| {
                        diesel::delete(
                            route_stops::table.filter(route_stops::route_id.eq(route_id)),
                        )
                        .execute(c)?;
                        for r in &list {
                            diesel::insert_into(route_stops::table)
                                .values(r)
                                .execute(c)?;
                        }
                        Ok(())
                    })
                    .map_err(DbError::from)
                })
                .await
            }
        }
    }

    /// Routes that call at a stop.
    pub async fn routes_of_stop(&self, stop_id: i64) -> Result<Vec<i64>, DbError> {
        on_db!(self, |c| route_stops::table
            .filter(route_stops::stop_id.eq(stop_id))
            .select(route_stops::route_id)
            .distinct()
            .load(c))
    }

    pub async fn schedules(&self, route_id: i64) -> Result<Vec<ScheduleRow>, DbError> {
        on_db!(self, |c| route_schedules::table
            .filter(route_schedules::route_id.eq(route_id))
            .order(route_schedules::departure_s)
            .select(ScheduleRow::as_select())
            .load(c))
    }

    pub async fn set_schedules(
        &self,
        route_id: i64,
        list: Vec<NewSchedule>,
    ) -> Result<Vec<ScheduleRow>, DbError> {
        on_db!(self, |c| diesel::delete(
            route_schedules::table.filter(route_schedules::route_id.eq(route_id))
        )
        .execute(c))?;
        if !list.is_empty() {
            on_db!(self, |c| diesel::insert_into(route_schedules::table)
                .values(list.clone())
                .execute(c))?;
        }
        self.schedules(route_id).await
    }

    /// Puts a vehicle on a route (or moves it).
    pub async fn assign_route(&self, row: AssignmentRow) -> Result<(), DbError> {
        on_db!(self, |c| diesel::delete(
            route_assignments::table.find(row.vehicle_id)
        )
        .execute(c))?;
        on_db!(self, |c| diesel::insert_into(route_assignments::table)
            .values(row.clone())
            .execute(c))?;
        Ok(())
    }

    pub async fn unassign_route(&self, vehicle_id: i64) -> Result<bool, DbError> {
        Ok(on_db!(self, |c| diesel::delete(
            route_assignments::table.find(vehicle_id)
        )
        .execute(c))?
            == 1)
    }

    pub async fn route_vehicles(&self, route_id: i64) -> Result<Vec<AssignmentRow>, DbError> {
        on_db!(self, |c| route_assignments::table
            .filter(route_assignments::route_id.eq(route_id))
            .order(route_assignments::vehicle_id)
            .select(AssignmentRow::as_select())
            .load(c))
    }

    /// A route's arrivals since `from_ms`, oldest first.
    pub async fn route_arrivals(
        &self,
        route_id: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<ArrivalRow>, DbError> {
        on_db!(self, |c| stop_arrivals::table
            .filter(stop_arrivals::route_id.eq(route_id))
            .filter(stop_arrivals::arrived_ms.ge(from_ms))
            .filter(stop_arrivals::arrived_ms.lt(to_ms))
            .order(stop_arrivals::arrived_ms)
            .select(ArrivalRow::as_select())
            .load(c))
    }

    /// A stop's latest arrivals, newest first.
    pub async fn stop_arrivals(
        &self,
        stop_id: i64,
        limit: i64,
    ) -> Result<Vec<ArrivalRow>, DbError> {
        on_db!(self, |c| stop_arrivals::table
            .filter(stop_arrivals::stop_id.eq(stop_id))
            .order(stop_arrivals::arrived_ms.desc())
            .limit(limit)
            .select(ArrivalRow::as_select())
            .load(c))
    }
}
