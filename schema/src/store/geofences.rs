//! Geofences, written once for both backends.

use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};

use super::{optional, DbError, Store};
use crate::models::{GeofenceData, GeofenceRow};
use crate::schema::geofences;

impl Store {
    pub async fn geofences(&self) -> Result<Vec<GeofenceRow>, DbError> {
        on_db!(self, |c| geofences::table
            .order(geofences::id)
            .select(GeofenceRow::as_select())
            .load(c))
    }

    pub async fn geofence(&self, id: i64) -> Result<Option<GeofenceRow>, DbError> {
        optional(on_db!(self, |c| geofences::table
            .find(id)
            .select(GeofenceRow::as_select())
            .first(c)))
    }

    pub async fn create_geofence(&self, data: GeofenceData) -> Result<GeofenceRow, DbError> {
        let created = data.updated_ms;
        on_db!(self, |c| diesel::insert_into(geofences::table)
            .values((data.clone(), geofences::created_ms.eq(created)))
            .returning(GeofenceRow::as_returning())
            .get_result(c))
    }

    /// Replaces a geofence; `None` when there is no such fence.
    pub async fn update_geofence(
        &self,
        id: i64,
        data: GeofenceData,
    ) -> Result<Option<GeofenceRow>, DbError> {
        optional(on_db!(self, |c| diesel::update(geofences::table.find(id))
            .set(data.clone())
            .returning(GeofenceRow::as_returning())
            .get_result(c)))
    }

    /// Deletes a geofence; false when there was none.
    pub async fn delete_geofence(&self, id: i64) -> Result<bool, DbError> {
        let n = on_db!(self, |c| diesel::delete(geofences::table.find(id))
            .execute(c))?;
        Ok(n == 1)
    }
}
