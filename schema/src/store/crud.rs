//! Registry data (devices, vehicles) and fleet queries, written once for both backends.

use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};

use super::{optional, DbError, Store};
use crate::models::{
    CanRow, DeviceChanges, DeviceReplace, DeviceRow, EventRow, NewDevice, NewVehicle, TelemetryRow,
    VehicleChanges, VehicleRow,
};
use crate::schema::{can_data, devices, events, telemetry, vehicles};

/// A unique or foreign-key violation, for a 409 or 400 rather than a 500.
pub fn is_conflict(e: &DbError) -> bool {
    matches!(
        e,
        DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation
                | diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _
        ))
    )
}

impl Store {
    /// The device row of `imei` (the device's own identifier), inserted with `model`, `name`
    /// and `kind` when absent. An edge node gets its `edge_nodes` row too.
    pub async fn ensure_device(
        &self,
        imei: &str,
        model: &str,
        name: Option<&str>,
        kind: &str,
    ) -> Result<DeviceRow, DbError> {
        if kind == super::edge::EDGE_NODE_KIND {
            let now = chrono::Utc::now().timestamp_millis();
            let node = crate::models::EdgeNodeRow::new(imei, name.unwrap_or(imei), now);
            self.ensure_edge_node(node).await?;
            return self
                .device(imei)
                .await?
                .ok_or(DbError::Query(diesel::result::Error::NotFound));
        }
        self.insert_device_if_absent(imei, model, name, kind).await
    }

    pub(crate) async fn insert_device_if_absent(
        &self,
        imei: &str,
        model: &str,
        name: Option<&str>,
        kind: &str,
    ) -> Result<DeviceRow, DbError> {
        let (i, m, n, k) = (
            imei.to_owned(),
            model.to_owned(),
            name.map(str::to_owned),
            kind.to_owned(),
        );
        on_db!(self, |c| diesel::insert_into(devices::table)
            .values(NewDevice {
                imei: &i,
                name: n.as_deref(),
                model: &m,
                kind: &k,
            })
            .on_conflict_do_nothing()
            .execute(c))?;
        self.device(imei)
            .await?
            .ok_or(DbError::Query(diesel::result::Error::NotFound))
    }

    /// Every registered device, by id.
    pub async fn devices(&self) -> Result<Vec<DeviceRow>, DbError> {
        on_db!(self, |c| devices::table
            .order(devices::id)
            .select(DeviceRow::as_select())
            .load(c))
    }

    /// A device's records with `from_ms <= device time < to_ms`, oldest first.
    pub async fn history(
        &self,
        device_id: i64,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<TelemetryRow>, DbError> {
        on_db!(self, |c| telemetry::table
            .filter(telemetry::device_id.eq(device_id))
            .filter(telemetry::device_time_ms.ge(from_ms))
            .filter(telemetry::device_time_ms.lt(to_ms))
            .order(telemetry::device_time_ms)
            .limit(limit)
            .select(TelemetryRow::as_select())
            .load(c))
    }

    /// A device's CAN values with `from_ms <= device time < to_ms`, oldest first.
    pub async fn can_data(
        &self,
        device_id: i64,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<CanRow>, DbError> {
        on_db!(self, |c| can_data::table
            .filter(can_data::device_id.eq(device_id))
            .filter(can_data::device_time_ms.ge(from_ms))
            .filter(can_data::device_time_ms.lt(to_ms))
            .order(can_data::device_time_ms)
            .limit(limit)
            .select(CanRow::as_select())
            .load(c))
    }

    /// A device's events with `from_ms <= time < to_ms`, oldest first.
    pub async fn events(
        &self,
        device_id: i64,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, DbError> {
        on_db!(self, |c| events::table
            .filter(events::device_id.eq(device_id))
            .filter(events::time_ms.ge(from_ms))
            .filter(events::time_ms.lt(to_ms))
            .order((events::time_ms, events::id))
            .limit(limit)
            .select(EventRow::as_select())
            .load(c))
    }

    pub async fn device(&self, imei: &str) -> Result<Option<DeviceRow>, DbError> {
        let imei = imei.to_owned();
        optional(on_db!(self, |c| devices::table
            .filter(devices::imei.eq(imei))
            .select(DeviceRow::as_select())
            .first(c)))
    }

    /// Inserts a device; a duplicate IMEI is a conflict error.
    pub async fn create_device(
        &self,
        imei: &str,
        model: &str,
        name: Option<&str>,
    ) -> Result<DeviceRow, DbError> {
        let (imei, model, name) = (imei.to_owned(), model.to_owned(), name.map(str::to_owned));
        on_db!(self, |c| diesel::insert_into(devices::table)
            .values(NewDevice {
                imei: &imei,
                name: name.as_deref(),
                model: &model,
                kind: "tracker",
            })
            .returning(DeviceRow::as_returning())
            .get_result(c))
    }

    pub async fn update_device(
        &self,
        imei: &str,
        changes: DeviceChanges,
    ) -> Result<Option<DeviceRow>, DbError> {
        if changes == DeviceChanges::default() {
            return self.device(imei).await;
        }
        let imei = imei.to_owned();
        optional(on_db!(self, |c| diesel::update(
            devices::table.filter(devices::imei.eq(imei))
        )
        .set(changes)
        .returning(DeviceRow::as_returning())
        .get_result(c)))
    }

    /// Replaces every writable field of a device.
    pub async fn replace_device(
        &self,
        imei: &str,
        fields: DeviceReplace,
    ) -> Result<Option<DeviceRow>, DbError> {
        let imei = imei.to_owned();
        optional(on_db!(self, |c| diesel::update(
            devices::table.filter(devices::imei.eq(imei.clone()))
        )
        .set(fields.clone())
        .returning(DeviceRow::as_returning())
        .get_result(c)))
    }

    /// Deletes a device and its history. Returns whether it existed.
    pub async fn delete_device(&self, imei: &str) -> Result<bool, DbError> {
        let Some(d) = self.device(imei).await? else {
            return Ok(false);
        };
        let id = d.id;
        match self {
            Store::Postgres(_) => {
                on_db!(self, |c| diesel::delete(
                    telemetry::table.filter(telemetry::device_id.eq(id))
                )
                .execute(c))?;
                on_db!(self, |c| diesel::delete(
                    can_data::table.filter(can_data::device_id.eq(id))
                )
                .execute(c))?;
            }
            // Views over the kept and staged rows there.
            Store::Sqlite(s) => {
                s.delete_history(id).await?;
            }
        }
        on_db!(self, |c| diesel::delete(
            events::table.filter(events::device_id.eq(id))
        )
        .execute(c))?;
        let n = on_db!(self, |c| diesel::delete(
            devices::table.filter(devices::id.eq(id))
        )
        .execute(c))?;
        Ok(n > 0)
    }

    /// Puts a device in a vehicle (or takes it out with `None`).
    pub async fn assign_device(
        &self,
        imei: &str,
        vehicle_id: Option<i64>,
    ) -> Result<Option<DeviceRow>, DbError> {
        let imei = imei.to_owned();
        optional(on_db!(self, |c| diesel::update(
            devices::table.filter(devices::imei.eq(imei))
        )
        .set(devices::vehicle_id.eq(vehicle_id))
        .returning(DeviceRow::as_returning())
        .get_result(c)))
    }

    pub async fn devices_of_vehicle(&self, vehicle_id: i64) -> Result<Vec<DeviceRow>, DbError> {
        on_db!(self, |c| devices::table
            .filter(devices::vehicle_id.eq(vehicle_id))
            .order(devices::id)
            .select(DeviceRow::as_select())
            .load(c))
    }

    pub async fn vehicles(&self, after_id: i64, limit: i64) -> Result<Vec<VehicleRow>, DbError> {
        on_db!(self, |c| vehicles::table
            .filter(vehicles::id.gt(after_id))
            .order(vehicles::id)
            .limit(limit)
            .select(VehicleRow::as_select())
            .load(c))
    }

    pub async fn vehicle(&self, id: i64) -> Result<Option<VehicleRow>, DbError> {
        optional(on_db!(self, |c| vehicles::table
            .find(id)
            .select(VehicleRow::as_select())
            .first(c)))
    }

    pub async fn create_vehicle(&self, v: NewVehicle) -> Result<VehicleRow, DbError> {
        on_db!(self, |c| diesel::insert_into(vehicles::table)
            .values(v)
            .returning(VehicleRow::as_returning())
            .get_result(c))
    }

    pub async fn update_vehicle(
        &self,
        id: i64,
        changes: VehicleChanges,
    ) -> Result<Option<VehicleRow>, DbError> {
        if changes == VehicleChanges::default() {
            return self.vehicle(id).await;
        }
        optional(on_db!(self, |c| diesel::update(vehicles::table.find(id))
            .set(changes)
            .returning(VehicleRow::as_returning())
            .get_result(c)))
    }

    /// Replaces every writable field of a vehicle.
    pub async fn replace_vehicle(
        &self,
        id: i64,
        fields: NewVehicle,
    ) -> Result<Option<VehicleRow>, DbError> {
        optional(on_db!(self, |c| diesel::update(vehicles::table.find(id))
            .set(fields.clone())
            .returning(VehicleRow::as_returning())
            .get_result(c)))
    }

    /// Deletes a vehicle; its devices stay, unassigned.
    pub async fn delete_vehicle(&self, id: i64) -> Result<bool, DbError> {
        on_db!(self, |c| diesel::update(
            devices::table.filter(devices::vehicle_id.eq(id))
        )
        .set(devices::vehicle_id.eq(None::<i64>))
        .execute(c))?;
        let n = on_db!(self, |c| diesel::delete(vehicles::table.find(id))
            .execute(c))?;
        Ok(n > 0)
    }

    /// Metres driven since `from_ms`, over live records of every device.
    pub async fn distance_since(&self, from_ms: i64) -> Result<f64, DbError> {
        let sum: Option<f64> = on_db!(self, |c| telemetry::table
            .filter(telemetry::device_time_ms.ge(from_ms))
            .filter(telemetry::late.eq(false))
            .select(diesel::dsl::sum(telemetry::distance_m))
            .first(c))?;
        Ok(sum.unwrap_or(0.0))
    }
}

impl Store {
    /// Marks a device connected or not, with the time it was last heard of.
    /// Devices of one kind, each `(identifier, model)`, inserted where absent in a few
    /// statements; the rows of all of them, new or not. A storm of first logins costs a
    /// handful of round trips instead of one per device. Edge nodes, which have a row of
    /// their own besides the device's, go one by one through `ensure_device`.
    pub async fn ensure_devices(
        &self,
        kind: &str,
        list: &[(String, String)],
    ) -> Result<Vec<DeviceRow>, DbError> {
        let mut rows = Vec::with_capacity(list.len());
        if kind == super::edge::EDGE_NODE_KIND {
            for (id, model) in list {
                rows.push(self.ensure_device(id, model, None, kind).await?);
            }
            return Ok(rows);
        }
        // Three values a row: well under both backends' bound on parameters.
        for chunk in list.chunks(1_000) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(imei, model)| {
                    (
                        devices::imei.eq(imei.clone()),
                        devices::model.eq(model.clone()),
                        devices::kind.eq(kind.to_owned()),
                    )
                })
                .collect();
            on_db!(self, |c| diesel::insert_into(devices::table)
                .values(values)
                .on_conflict_do_nothing()
                .execute(c))?;
            let imeis: Vec<String> = chunk.iter().map(|(imei, _)| imei.clone()).collect();
            let found: Vec<DeviceRow> = on_db!(self, |c| devices::table
                .filter(devices::imei.eq_any(imeis))
                .select(DeviceRow::as_select())
                .load(c))?;
            rows.extend(found);
        }
        Ok(rows)
    }

    /// Presence of many devices, `(device id, online, last seen ms)`, in one transaction.
    pub async fn set_presence_many(&self, list: Vec<(i64, bool, i64)>) -> Result<(), DbError> {
        if list.is_empty() {
            return Ok(());
        }
        match self {
            Store::Postgres(s) => {
                use diesel::sql_types::{Array, BigInt, Bool};
                use diesel_async::RunQueryDsl;
                let mut conn = s.conn().await?;
                let ids: Vec<i64> = list.iter().map(|p| p.0).collect();
                let online: Vec<bool> = list.iter().map(|p| p.1).collect();
                let seen: Vec<i64> = list.iter().map(|p| p.2).collect();
                diesel::sql_query(
                    "UPDATE devices AS d SET online = v.online, last_seen_ms = v.seen \
                     FROM unnest($1, $2, $3) AS v(id, online, seen) WHERE d.id = v.id",
                )
                .bind::<Array<BigInt>, _>(ids)
                .bind::<Array<Bool>, _>(online)
                .bind::<Array<BigInt>, _>(seen)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }
            Store::Sqlite(s) => {
                s.run(move |c| {
                    use diesel::RunQueryDsl;
                    c.immediate_transaction(|c| {
                        for (id, online, seen) in list {
                            diesel::update(devices::table.find(id))
                                .set((
                                    devices::online.eq(online),
                                    devices::last_seen_ms.eq(Some(seen)),
                                ))
                                .execute(c)?;
                        }
                        Ok::<_, diesel::result::Error>(())
                    })
                    .map_err(DbError::from)
                })
                .await
            }
        }
    }
}

impl Store {
    /// Litres of fuel used since `from_ms` over every device: the rise of each device's fuel
    /// consumption counter (CAN), summed.
    pub async fn fuel_used_since(&self, from_ms: i64) -> Result<f64, DbError> {
        use diesel::dsl::{max, min};
        let per_device: Vec<(i64, Option<f64>, Option<f64>)> = on_db!(self, |c| can_data::table
            .filter(can_data::device_time_ms.ge(from_ms))
            .group_by(can_data::device_id)
            .select((
                can_data::device_id,
                max(can_data::fuel_used_l),
                min(can_data::fuel_used_l)
            ))
            .load(c))?;
        Ok(per_device
            .into_iter()
            .filter_map(|(_, hi, lo)| Some((hi? - lo?).max(0.0)))
            .sum())
    }
}
