//! Alert rules, alerts, notification channels, dead letters and device commands, written
//! once for both backends.

use diesel::{BoolExpressionMethods, ExpressionMethods, QueryDsl, SelectableHelper};

use super::{optional, DbError, Store};
use crate::models::{
    AlertRow, AlertRuleData, AlertRuleRow, ChannelData, ChannelRow, CommandRow, DeadLetterRow,
    DeviceRow, NewCommand, NewDeadLetter,
};
use crate::schema::{
    alert_rules, alerts, device_commands, devices, notification_channels,
    notification_dead_letters, vehicles,
};

/// Alert status values.
pub const ACTIVE_UNACK: &str = "ACTIVE_UNACK";
pub const ACTIVE_ACK: &str = "ACTIVE_ACK";
pub const CLEARED: &str = "CLEARED";

/// Which alerts to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub status: Option<String>,
    /// Not cleared (either active status).
    pub open: bool,
    pub severity: Option<String>,
    pub kind: Option<String>,
    pub device_id: Option<i64>,
    pub vehicle_id: Option<i64>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Only alerts raised before this one (the cursor: raised_ms, id).
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// What became of an acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub enum AckOutcome {
    Acknowledged(AlertRow),
    /// Already acknowledged or cleared: the row as it is.
    Unchanged(AlertRow),
    Missing,
}

impl Store {
    pub async fn alert_rules(&self) -> Result<Vec<AlertRuleRow>, DbError> {
        on_db!(self, |c| alert_rules::table
            .order(alert_rules::id)
            .select(AlertRuleRow::as_select())
            .load(c))
    }

    pub async fn alert_rule(&self, id: i64) -> Result<Option<AlertRuleRow>, DbError> {
        optional(on_db!(self, |c| alert_rules::table
            .find(id)
            .select(AlertRuleRow::as_select())
            .first(c)))
    }

    pub async fn create_alert_rule(&self, data: AlertRuleData) -> Result<AlertRuleRow, DbError> {
        let created = data.updated_ms;
        on_db!(self, |c| diesel::insert_into(alert_rules::table)
            .values((data.clone(), alert_rules::created_ms.eq(created)))
            .returning(AlertRuleRow::as_returning())
            .get_result(c))
    }

    pub async fn update_alert_rule(
        &self,
        id: i64,
        data: AlertRuleData,
    ) -> Result<Option<AlertRuleRow>, DbError> {
        optional(on_db!(self, |c| diesel::update(
            alert_rules::table.find(id)
        )
        .set(data.clone())
        .returning(AlertRuleRow::as_returning())
        .get_result(c)))
    }

    pub async fn delete_alert_rule(&self, id: i64) -> Result<bool, DbError> {
        let n = on_db!(self, |c| diesel::delete(alert_rules::table.find(id))
            .execute(c))?;
        Ok(n == 1)
    }

    pub async fn device_by_id(&self, id: i64) -> Result<Option<DeviceRow>, DbError> {
        optional(on_db!(self, |c| devices::table
            .find(id)
            .select(DeviceRow::as_select())
            .first(c)))
    }

    /// Vehicles that belong to a group: (vehicle id, group).
    pub async fn vehicle_groups(&self) -> Result<Vec<(i64, String)>, DbError> {
        let rows: Vec<(i64, Option<String>)> = on_db!(self, |c| vehicles::table
            .filter(vehicles::group_name.is_not_null())
            .select((vehicles::id, vehicles::group_name))
            .load(c))?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, g)| g.map(|g| (id, g)))
            .collect())
    }

    pub async fn insert_alert(&self, row: AlertRow) -> Result<(), DbError> {
        on_db!(self, |c| diesel::insert_into(alerts::table)
            .values(row.clone())
            .execute(c))?;
        Ok(())
    }

    /// One more occurrence of an active alert.
    pub async fn repeat_alert(
        &self,
        id: &str,
        last_ms: i64,
        details: &str,
    ) -> Result<Option<AlertRow>, DbError> {
        let (id, details) = (id.to_owned(), details.to_owned());
        optional(on_db!(self, |c| diesel::update(
            alerts::table.find(id.clone())
        )
        .set((
            alerts::occurrences.eq(alerts::occurrences + 1),
            alerts::last_ms.eq(last_ms),
            alerts::details.eq(details.clone()),
        ))
        .returning(AlertRow::as_returning())
        .get_result(c)))
    }

    /// Clears an alert (`by`: who, or `None` when its condition ended). `None` when it was
    /// cleared already or does not exist.
    pub async fn clear_alert(
        &self,
        id: &str,
        at_ms: i64,
        by: Option<&str>,
    ) -> Result<Option<AlertRow>, DbError> {
        let (id, by) = (id.to_owned(), by.map(str::to_owned));
        optional(on_db!(self, |c| diesel::update(
            alerts::table
                .find(id.clone())
                .filter(alerts::status.ne(CLEARED))
        )
        .set((
            alerts::status.eq(CLEARED),
            alerts::cleared_ms.eq(at_ms),
            alerts::cleared_by.eq(by.clone()),
        ))
        .returning(AlertRow::as_returning())
        .get_result(c)))
    }

    /// ACTIVE_UNACK → ACTIVE_ACK, recording who and when. A cleared alert keeps its status
    /// but records the acknowledgement too, once.
    pub async fn acknowledge_alert(
        &self,
        id: &str,
        at_ms: i64,
        by: &str,
    ) -> Result<AckOutcome, DbError> {
        let (key, by) = (id.to_owned(), by.to_owned());
        let updated = optional(on_db!(self, |c| diesel::update(
            alerts::table
                .find(key.clone())
                .filter(alerts::acknowledged_ms.is_null())
        )
        .set((
            alerts::status.eq(diesel::dsl::sql::<diesel::sql_types::Text>(
                "CASE WHEN status = 'ACTIVE_UNACK' THEN 'ACTIVE_ACK' ELSE status END"
            )),
            alerts::acknowledged_ms.eq(at_ms),
            alerts::acknowledged_by.eq(by.clone()),
        ))
        .returning(AlertRow::as_returning())
        .get_result(c)))?;
        if let Some(row) = updated {
            return Ok(AckOutcome::Acknowledged(row));
        }
        Ok(match self.alert(id).await? {
            Some(row) => AckOutcome::Unchanged(row),
            None => AckOutcome::Missing,
        })
    }

    pub async fn alert(&self, id: &str) -> Result<Option<AlertRow>, DbError> {
        let id = id.to_owned();
        optional(on_db!(self, |c| alerts::table
            .find(id.clone())
            .select(AlertRow::as_select())
            .first(c)))
    }

    /// Alerts not cleared, for the rule engine to take up again after a restart.
    pub async fn open_alerts(&self) -> Result<Vec<AlertRow>, DbError> {
        on_db!(self, |c| alerts::table
            .filter(alerts::status.ne(CLEARED))
            .select(AlertRow::as_select())
            .load(c))
    }

    /// The latest clear of each (rule, device, subject) since `since_ms`: cooldowns survive a
    /// restart.
    pub async fn recently_cleared(&self, since_ms: i64) -> Result<Vec<AlertRow>, DbError> {
        on_db!(self, |c| alerts::table
            .filter(alerts::cleared_ms.ge(since_ms))
            .filter(alerts::late.eq(false))
            .select(AlertRow::as_select())
            .load(c))
    }

    pub async fn alerts(&self, f: AlertFilter) -> Result<Vec<AlertRow>, DbError> {
        on_db!(self, |c| {
            let mut q = alerts::table.into_boxed();
            if let Some(s) = f.status.clone() {
                q = q.filter(alerts::status.eq(s));
            }
            if f.open {
                q = q.filter(alerts::status.ne(CLEARED));
            }
            if let Some(s) = f.severity.clone() {
                q = q.filter(alerts::severity.eq(s));
            }
            if let Some(k) = f.kind.clone() {
                q = q.filter(alerts::kind.eq(k));
            }
            if let Some(d) = f.device_id {
                q = q.filter(alerts::device_id.eq(d));
            }
            if let Some(v) = f.vehicle_id {
                q = q.filter(alerts::vehicle_id.eq(v));
            }
            if let Some(from) = f.from_ms {
                q = q.filter(alerts::raised_ms.ge(from));
            }
            if let Some(to) = f.to_ms {
                q = q.filter(alerts::raised_ms.lt(to));
            }
            if let Some((ms, id)) = f.before.clone() {
                q = q.filter(
                    alerts::raised_ms
                        .lt(ms)
                        .or(alerts::raised_ms.eq(ms).and(alerts::id.lt(id))),
                );
            }
            q.order((alerts::raised_ms.desc(), alerts::id.desc()))
                .limit(f.limit)
                .select(AlertRow::as_select())
                .load(c)
        })
    }

    pub async fn channels(&self) -> Result<Vec<ChannelRow>, DbError> {
        on_db!(self, |c| notification_channels::table
            .order(notification_channels::id)
            .select(ChannelRow::as_select())
            .load(c))
    }

    pub async fn channel(&self, id: i64) -> Result<Option<ChannelRow>, DbError> {
        optional(on_db!(self, |c| notification_channels::table
            .find(id)
            .select(ChannelRow::as_select())
            .first(c)))
    }

    pub async fn create_channel(&self, data: ChannelData) -> Result<ChannelRow, DbError> {
        let created = data.updated_ms;
        on_db!(self, |c| diesel::insert_into(notification_channels::table)
            .values((data.clone(), notification_channels::created_ms.eq(created)))
            .returning(ChannelRow::as_returning())
            .get_result(c))
    }

    pub async fn update_channel(
        &self,
        id: i64,
        data: ChannelData,
    ) -> Result<Option<ChannelRow>, DbError> {
        optional(on_db!(self, |c| diesel::update(
            notification_channels::table.find(id)
        )
        .set(data.clone())
        .returning(ChannelRow::as_returning())
        .get_result(c)))
    }

    pub async fn delete_channel(&self, id: i64) -> Result<bool, DbError> {
        let n = on_db!(self, |c| diesel::delete(
            notification_channels::table.find(id)
        )
        .execute(c))?;
        Ok(n == 1)
    }

    pub async fn insert_dead_letter(&self, row: NewDeadLetter) -> Result<(), DbError> {
        on_db!(self, |c| diesel::insert_into(
            notification_dead_letters::table
        )
        .values(row.clone())
        .execute(c))?;
        Ok(())
    }

    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<DeadLetterRow>, DbError> {
        on_db!(self, |c| notification_dead_letters::table
            .order(notification_dead_letters::id.desc())
            .limit(limit)
            .select(DeadLetterRow::as_select())
            .load(c))
    }

    /// Stores a new QUEUED command; with an idempotency key already used for this device,
    /// returns that command instead. The flag says whether the command is new.
    pub async fn enqueue_command(&self, cmd: NewCommand) -> Result<(CommandRow, bool), DbError> {
        if let Some(row) = self.command_by_key(&cmd).await? {
            return Ok((row, false));
        }
        let inserted = {
            let cmd = cmd.clone();
            on_db!(self, |c| diesel::insert_into(device_commands::table)
                .values(cmd.clone())
                .returning(CommandRow::as_returning())
                .get_result(c))
        };
        match inserted {
            Ok(row) => Ok((row, true)),
            // The same key created at the same moment elsewhere: that one stands.
            Err(e) if super::is_conflict(&e) && cmd.idempotency_key.is_some() => self
                .command_by_key(&cmd)
                .await?
                .map(|row| (row, false))
                .ok_or(e),
            Err(e) => Err(e),
        }
    }

    async fn command_by_key(&self, cmd: &NewCommand) -> Result<Option<CommandRow>, DbError> {
        let Some(key) = cmd.idempotency_key.clone() else {
            return Ok(None);
        };
        let device = cmd.device_id;
        optional(on_db!(self, |c| device_commands::table
            .filter(device_commands::device_id.eq(device))
            .filter(device_commands::idempotency_key.eq(key.clone()))
            .select(CommandRow::as_select())
            .first(c)))
    }

    pub async fn command(&self, id: i64) -> Result<Option<CommandRow>, DbError> {
        optional(on_db!(self, |c| device_commands::table
            .find(id)
            .select(CommandRow::as_select())
            .first(c)))
    }

    pub async fn device_commands(
        &self,
        device_id: i64,
        limit: i64,
    ) -> Result<Vec<CommandRow>, DbError> {
        on_db!(self, |c| device_commands::table
            .filter(device_commands::device_id.eq(device_id))
            .order(device_commands::id.desc())
            .limit(limit)
            .select(CommandRow::as_select())
            .load(c))
    }

    /// Queued commands of a device, oldest first; those past their expiry are marked EXPIRED
    /// and left out.
    pub async fn queued_commands(
        &self,
        device_id: i64,
        now_ms: i64,
    ) -> Result<Vec<CommandRow>, DbError> {
        on_db!(self, |c| diesel::update(
            device_commands::table
                .filter(device_commands::device_id.eq(device_id))
                .filter(device_commands::status.eq("QUEUED"))
                .filter(device_commands::expires_ms.le(now_ms))
        )
        .set(device_commands::status.eq("EXPIRED"))
        .execute(c))?;
        on_db!(self, |c| device_commands::table
            .filter(device_commands::device_id.eq(device_id))
            .filter(device_commands::status.eq("QUEUED"))
            .order(device_commands::id)
            .select(CommandRow::as_select())
            .load(c))
    }

    /// QUEUED → SENT. False when the command was no longer queued (another node took it).
    pub async fn mark_command_sent(&self, id: i64, at_ms: i64) -> Result<bool, DbError> {
        let n = on_db!(self, |c| diesel::update(
            device_commands::table
                .find(id)
                .filter(device_commands::status.eq("QUEUED"))
        )
        .set((
            device_commands::status.eq("SENT"),
            device_commands::sent_ms.eq(at_ms),
        ))
        .execute(c))?;
        Ok(n == 1)
    }

    /// The outcome of a sent command: its answer, or why it failed.
    pub async fn finish_command(
        &self,
        id: i64,
        at_ms: i64,
        outcome: Result<String, String>,
    ) -> Result<Option<CommandRow>, DbError> {
        let (status, response, error) = match outcome {
            Ok(r) => ("ANSWERED", Some(r), None),
            Err(e) => ("FAILED", None, Some(e)),
        };
        optional(on_db!(self, |c| diesel::update(
            device_commands::table.find(id)
        )
        .set((
            device_commands::status.eq(status),
            device_commands::response.eq(response.clone()),
            device_commands::error.eq(error.clone()),
            device_commands::answered_ms.eq(at_ms),
        ))
        .returning(CommandRow::as_returning())
        .get_result(c)))
    }

    /// A sent command goes back to the queue (the device dropped before answering).
    pub async fn requeue_command(&self, id: i64) -> Result<(), DbError> {
        on_db!(self, |c| diesel::update(
            device_commands::table
                .find(id)
                .filter(device_commands::status.eq("SENT"))
        )
        .set((
            device_commands::status.eq("QUEUED"),
            device_commands::sent_ms.eq(None::<i64>),
        ))
        .execute(c))?;
        Ok(())
    }
}
