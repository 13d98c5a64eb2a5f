//! Modbus buses, robots and what they report, written once for both backends.

use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};

use super::{optional, DbError, Store};
use crate::models::{
    BusRow, NewBus, NewRobot, RobotChanges, RobotRow, RobotTelemetryRow, SafetyEventRow,
};
use crate::schema::{devices, modbus_buses, robot_telemetry, robots, safety_events};

/// The device kind of robots in `devices`.
pub const ROBOT_KIND: &str = "robot";

/// A robot's identifier in `devices` (never a tracker's digits nor an edge node's id).
pub fn robot_identifier(robot_id: i64) -> String {
    format!("robot:{robot_id}")
}

impl Store {
    pub async fn create_bus(&self, bus: NewBus) -> Result<BusRow, DbError> {
        on_db!(self, |c| diesel::insert_into(modbus_buses::table)
            .values(bus.clone())
            .returning(BusRow::as_returning())
            .get_result(c))
    }

    pub async fn buses(&self) -> Result<Vec<BusRow>, DbError> {
        on_db!(self, |c| modbus_buses::table
            .order(modbus_buses::id)
            .select(BusRow::as_select())
            .load(c))
    }

    pub async fn bus(&self, id: i64) -> Result<Option<BusRow>, DbError> {
        optional(on_db!(self, |c| modbus_buses::table
            .find(id)
            .select(BusRow::as_select())
            .first(c)))
    }

    /// Replaces a bus's settings (its creation time stays); `None` when there is none.
    pub async fn update_bus(&self, id: i64, bus: NewBus) -> Result<Option<BusRow>, DbError> {
        let n = on_db!(self, |c| diesel::update(modbus_buses::table.find(id))
            .set((
                modbus_buses::name.eq(bus.name.clone()),
                modbus_buses::kind.eq(bus.kind.clone()),
                modbus_buses::address.eq(bus.address.clone()),
                modbus_buses::path.eq(bus.path.clone()),
                modbus_buses::baud.eq(bus.baud),
                modbus_buses::parity.eq(bus.parity.clone()),
                modbus_buses::stop_bits.eq(bus.stop_bits),
                modbus_buses::poll_hz.eq(bus.poll_hz),
                modbus_buses::updated_ms.eq(bus.updated_ms),
            ))
            .execute(c))?;
        if n == 0 {
            return Ok(None);
        }
        self.bus(id).await
    }

    /// Deletes a bus; a bus with robots on it is a conflict (foreign key) error.
    pub async fn delete_bus(&self, id: i64) -> Result<bool, DbError> {
        let robots_on: i64 = on_db!(self, |c| robots::table
            .filter(robots::bus_id.eq(id))
            .count()
            .get_result(c))?;
        if robots_on > 0 {
            return Err(DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                Box::new(format!("bus {id} has {robots_on} robots")),
            )));
        }
        let n = on_db!(self, |c| diesel::delete(modbus_buses::table.find(id))
            .execute(c))?;
        Ok(n > 0)
    }

    /// Inserts a robot and its device row (kind `robot`).
    pub async fn create_robot(&self, robot: NewRobot) -> Result<RobotRow, DbError> {
        let row = on_db!(self, |c| diesel::insert_into(robots::table)
            .values(robot.clone())
            .returning(RobotRow::as_returning())
            .get_result(c))?;
        let device = self
            .insert_device_if_absent(
                &robot_identifier(row.id),
                &row.map,
                Some(&row.name),
                ROBOT_KIND,
            )
            .await?;
        let id = row.id;
        on_db!(self, |c| diesel::update(robots::table.find(id))
            .set(robots::device_id.eq(device.id))
            .execute(c))?;
        self.robot(id)
            .await?
            .ok_or(DbError::Query(diesel::result::Error::NotFound))
    }

    pub async fn robots(&self) -> Result<Vec<RobotRow>, DbError> {
        on_db!(self, |c| robots::table
            .order(robots::id)
            .select(RobotRow::as_select())
            .load(c))
    }

    pub async fn robot(&self, id: i64) -> Result<Option<RobotRow>, DbError> {
        optional(on_db!(self, |c| robots::table
            .find(id)
            .select(RobotRow::as_select())
            .first(c)))
    }

    pub async fn update_robot(
        &self,
        id: i64,
        changes: RobotChanges,
    ) -> Result<Option<RobotRow>, DbError> {
        let name = changes.name.clone();
        let n = on_db!(self, |c| diesel::update(robots::table.find(id))
            .set(changes.clone())
            .execute(c))?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(name) = name {
            let ident = robot_identifier(id);
            on_db!(self, |c| diesel::update(
                devices::table.filter(devices::imei.eq(ident.clone()))
            )
            .set(devices::name.eq(name.clone()))
            .execute(c))?;
        }
        self.robot(id).await
    }

    /// Deletes a robot and its device row; false when there was none.
    pub async fn delete_robot(&self, id: i64) -> Result<bool, DbError> {
        let ident = robot_identifier(id);
        on_db!(self, |c| diesel::delete(
            devices::table
                .filter(devices::imei.eq(ident.clone()))
                .filter(devices::kind.eq(ROBOT_KIND))
        )
        .execute(c))?;
        let n = on_db!(self, |c| diesel::delete(robots::table.find(id)).execute(c))?;
        Ok(n > 0)
    }

    /// A robot's telemetry with `from_ms <= time < to_ms`, oldest first, at most `limit`.
    pub async fn robot_telemetry(
        &self,
        robot_id: i64,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<RobotTelemetryRow>, DbError> {
        on_db!(self, |c| robot_telemetry::table
            .filter(robot_telemetry::robot_id.eq(robot_id))
            .filter(robot_telemetry::time_ms.ge(from_ms))
            .filter(robot_telemetry::time_ms.lt(to_ms))
            .order(robot_telemetry::time_ms)
            .limit(limit)
            .select(RobotTelemetryRow::as_select())
            .load(c))
    }

    /// A robot's safety events, newest first.
    pub async fn safety_events(
        &self,
        robot_id: Option<i64>,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<SafetyEventRow>, DbError> {
        on_db!(self, |c| {
            let mut q = safety_events::table
                .filter(safety_events::time_ms.ge(from_ms))
                .filter(safety_events::time_ms.lt(to_ms))
                .into_boxed();
            if let Some(r) = robot_id {
                q = q.filter(safety_events::robot_id.eq(r));
            }
            q.order((safety_events::time_ms.desc(), safety_events::id.desc()))
                .limit(limit)
                .select(SafetyEventRow::as_select())
                .load(c)
        })
    }
}
