//! Edge nodes and what they report, written once for both backends.

use diesel::{BoolExpressionMethods, ExpressionMethods, QueryDsl, SelectableHelper};

use super::{optional, DbError, Store};
use crate::models::{
    ConsensusRoundRow, DetectionRow, EdgeNodeChanges, EdgeNodeRow, MqttDeadLetterRow,
    NodeSampleRow, SystemLogRow, SystemMetricsRow,
};
use crate::schema::{
    consensus_rounds, detections, devices, edge_nodes, mqtt_dead_letters, node_samples,
    system_logs, system_metrics,
};

/// The device kind of edge nodes in `devices`.
pub const EDGE_NODE_KIND: &str = "edge_node";
/// The model edge nodes are registered with.
pub const EDGE_NODE_MODEL: &str = "edge-node";

/// Which detections to list. A cursor is the last row of the previous page.
#[derive(Debug, Clone, Default)]
pub struct DetectionFilter {
    pub node: Option<String>,
    pub stream: Option<String>,
    pub object_type: Option<String>,
    pub min_confidence: Option<f64>,
    pub from_ms: i64,
    pub to_ms: i64,
    /// (time, node, boot, seq, idx) of the last row already seen.
    pub after: Option<(i64, String, i64, i64, i32)>,
    pub limit: i64,
}

#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub level: Option<String>,
    pub source: Option<String>,
    pub from_ms: i64,
    pub to_ms: i64,
    pub limit: i64,
}

impl Store {
    /// Registers an edge node (its `devices` row and its `edge_nodes` row) when absent, and
    /// returns it. `node` carries the node's fields; its `device_id` is ignored.
    pub async fn ensure_edge_node(&self, node: EdgeNodeRow) -> Result<EdgeNodeRow, DbError> {
        let device = self
            .insert_device_if_absent(&node.id, EDGE_NODE_MODEL, Some(&node.name), EDGE_NODE_KIND)
            .await?;
        let row = EdgeNodeRow {
            device_id: device.id,
            ..node
        };
        let id = row.id.clone();
        on_db!(self, |c| diesel::insert_into(edge_nodes::table)
            .values(&row)
            .on_conflict_do_nothing()
            .execute(c))?;
        self.edge_node(&id)
            .await?
            .ok_or(DbError::Query(diesel::result::Error::NotFound))
    }

    /// Inserts a new edge node; an existing id is a conflict error.
    pub async fn create_edge_node(&self, node: EdgeNodeRow) -> Result<EdgeNodeRow, DbError> {
        if self.edge_node(&node.id).await?.is_some() || self.device(&node.id).await?.is_some() {
            return Err(DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                Box::new(format!("edge node {} exists", node.id)),
            )));
        }
        self.ensure_edge_node(node).await
    }

    pub async fn edge_node(&self, id: &str) -> Result<Option<EdgeNodeRow>, DbError> {
        let id = id.to_owned();
        optional(on_db!(self, |c| edge_nodes::table
            .filter(edge_nodes::id.eq(id))
            .select(EdgeNodeRow::as_select())
            .first(c)))
    }

    /// Every edge node, by id.
    pub async fn edge_nodes(&self) -> Result<Vec<EdgeNodeRow>, DbError> {
        on_db!(self, |c| edge_nodes::table
            .order(edge_nodes::id)
            .select(EdgeNodeRow::as_select())
            .load(c))
    }

    /// Applies `changes`; `None` when there is no such node.
    pub async fn update_edge_node(
        &self,
        id: &str,
        changes: EdgeNodeChanges,
    ) -> Result<Option<EdgeNodeRow>, DbError> {
        let key = id.to_owned();
        let name = changes.name.clone();
        let n = on_db!(self, |c| diesel::update(
            edge_nodes::table.filter(edge_nodes::id.eq(key))
        )
        .set(&changes)
        .execute(c))?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(name) = name {
            let key = id.to_owned();
            on_db!(self, |c| diesel::update(
                devices::table.filter(devices::imei.eq(key))
            )
            .set(devices::name.eq(name))
            .execute(c))?;
        }
        self.edge_node(id).await
    }

    /// Remembers the API key a node registered with (its MQTT password).
    pub async fn set_edge_node_key(&self, id: &str, key_id: i64) -> Result<(), DbError> {
        let id = id.to_owned();
        on_db!(self, |c| diesel::update(
            edge_nodes::table.filter(edge_nodes::id.eq(id))
        )
        .set(edge_nodes::api_key_id.eq(key_id))
        .execute(c))?;
        Ok(())
    }

    /// Deletes a node and its device row; false when there was none.
    pub async fn delete_edge_node(&self, id: &str) -> Result<bool, DbError> {
        let id = id.to_owned();
        let n = on_db!(self, |c| diesel::delete(
            devices::table
                .filter(devices::imei.eq(id))
                .filter(devices::kind.eq(EDGE_NODE_KIND))
        )
        .execute(c))?;
        Ok(n > 0)
    }

    /// Detections matching `f`, oldest first, at most `f.limit`.
    pub async fn detections(&self, f: DetectionFilter) -> Result<Vec<DetectionRow>, DbError> {
        on_db!(self, |c| {
            let mut q = detections::table
                .filter(detections::time_ms.ge(f.from_ms))
                .filter(detections::time_ms.lt(f.to_ms))
                .into_boxed();
            if let Some(n) = &f.node {
                q = q.filter(detections::node_id.eq(n.clone()));
            }
            if let Some(s) = &f.stream {
                q = q.filter(detections::stream_id.eq(s.clone()));
            }
            if let Some(t) = &f.object_type {
                q = q.filter(detections::object_type.eq(t.clone()));
            }
            if let Some(m) = f.min_confidence {
                q = q.filter(detections::confidence.ge(m));
            }
            if let Some((t, n, b, s, i)) = f.after.clone() {
                q = q.filter(
                    detections::time_ms.gt(t).or(detections::time_ms.eq(t).and(
                        detections::node_id
                            .gt(n.clone())
                            .or(detections::node_id.eq(n).and(
                                detections::boot.gt(b).or(detections::boot.eq(b).and(
                                    detections::seq
                                        .gt(s)
                                        .or(detections::seq.eq(s).and(detections::idx.gt(i))),
                                )),
                            )),
                    )),
                );
            }
            q.order((
                detections::time_ms,
                detections::node_id,
                detections::boot,
                detections::seq,
                detections::idx,
            ))
            .limit(f.limit)
            .select(DetectionRow::as_select())
            .load(c)
        })
    }

    /// Stored detections, for the system totals at start.
    pub async fn detection_count(&self) -> Result<i64, DbError> {
        on_db!(self, |c| detections::table.count().get_result(c))
    }

    /// The time of the oldest stored detection, if any.
    pub async fn oldest_detection_ms(&self) -> Result<Option<i64>, DbError> {
        use diesel::dsl::min;
        on_db!(self, |c| detections::table
            .select(min(detections::time_ms))
            .get_result(c))
    }

    /// Removes the pictures of people (`crop` and `image` in a person detection's metadata)
    /// from the detections of `[from_ms, to_ms)`; the rest of each row stays. Returns the
    /// rows changed.
    pub async fn strip_person_images(&self, from_ms: i64, to_ms: i64) -> Result<u64, DbError> {
        use diesel::sql_types::BigInt;
        const POSTGRES: &str = "UPDATE detections \
             SET metadata = (metadata::jsonb - 'crop' - 'image')::text \
             WHERE time_ms >= $1 AND time_ms < $2 AND lower(object_type) = 'person' \
             AND (metadata LIKE '%\"crop\"%' OR metadata LIKE '%\"image\"%') \
             AND jsonb_exists_any(metadata::jsonb, ARRAY['crop', 'image'])";
        const SQLITE: &str = "UPDATE detections \
             SET metadata = json_remove(metadata, '$.crop', '$.image') \
             WHERE time_ms >= ? AND time_ms < ? AND lower(object_type) = 'person' \
             AND (json_type(metadata, '$.crop') IS NOT NULL \
                  OR json_type(metadata, '$.image') IS NOT NULL)";
        let n = match self {
            Store::Postgres(s) => {
                let mut conn = s.conn().await?;
                diesel_async::RunQueryDsl::execute(
                    diesel::sql_query(POSTGRES)
                        .bind::<BigInt, _>(from_ms)
                        .bind::<BigInt, _>(to_ms),
                    &mut *conn,
                )
                .await?
            }
            Store::Sqlite(s) => {
                s.run(move |c| {
                    diesel::RunQueryDsl::execute(
                        diesel::sql_query(SQLITE)
                            .bind::<BigInt, _>(from_ms)
                            .bind::<BigInt, _>(to_ms),
                        c,
                    )
                    .map_err(DbError::from)
                })
                .await?
            }
        };
        Ok(n as u64)
    }

    /// A node's heartbeats and metrics reports in `[from, to)`, oldest first.
    pub async fn node_samples(
        &self,
        node: &str,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<NodeSampleRow>, DbError> {
        let node = node.to_owned();
        on_db!(self, |c| node_samples::table
            .filter(node_samples::node_id.eq(node))
            .filter(node_samples::time_ms.ge(from_ms))
            .filter(node_samples::time_ms.lt(to_ms))
            .order(node_samples::time_ms)
            .limit(limit)
            .select(NodeSampleRow::as_select())
            .load(c))
    }

    /// Consensus rounds in `[from, to)`, newest first.
    pub async fn consensus_rounds(
        &self,
        node: Option<String>,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<ConsensusRoundRow>, DbError> {
        on_db!(self, |c| {
            let mut q = consensus_rounds::table
                .filter(consensus_rounds::time_ms.ge(from_ms))
                .filter(consensus_rounds::time_ms.lt(to_ms))
                .into_boxed();
            if let Some(n) = &node {
                q = q.filter(consensus_rounds::node_id.eq(n.clone()));
            }
            q.order((
                consensus_rounds::time_ms.desc(),
                consensus_rounds::id.desc(),
            ))
            .limit(limit)
            .select(ConsensusRoundRow::as_select())
            .load(c)
        })
    }

    /// The latest system metrics stored.
    pub async fn latest_system_metrics(&self) -> Result<Option<SystemMetricsRow>, DbError> {
        optional(on_db!(self, |c| system_metrics::table
            .order(system_metrics::time_ms.desc())
            .select(SystemMetricsRow::as_select())
            .first(c)))
    }

    /// System log entries matching `f`, newest first.
    pub async fn system_logs(&self, f: LogFilter) -> Result<Vec<SystemLogRow>, DbError> {
        on_db!(self, |c| {
            let mut q = system_logs::table
                .filter(system_logs::time_ms.ge(f.from_ms))
                .filter(system_logs::time_ms.lt(f.to_ms))
                .into_boxed();
            if let Some(l) = &f.level {
                q = q.filter(system_logs::level.eq(l.clone()));
            }
            if let Some(s) = &f.source {
                q = q.filter(system_logs::source.eq(s.clone()));
            }
            q.order((system_logs::time_ms.desc(), system_logs::id.desc()))
                .limit(f.limit)
                .select(SystemLogRow::as_select())
                .load(c)
        })
    }

    /// The newest refused MQTT messages.
    pub async fn mqtt_dead_letters(&self, limit: i64) -> Result<Vec<MqttDeadLetterRow>, DbError> {
        on_db!(self, |c| mqtt_dead_letters::table
            .order(mqtt_dead_letters::id.desc())
            .limit(limit)
            .select(MqttDeadLetterRow::as_select())
            .load(c))
    }

    /// Deletes system metrics before `metrics_cutoff_ms` and logs before `logs_cutoff_ms`.
    pub async fn prune_system(
        &self,
        metrics_cutoff_ms: i64,
        logs_cutoff_ms: i64,
    ) -> Result<u64, DbError> {
        let a = on_db!(self, |c| diesel::delete(
            system_metrics::table.filter(system_metrics::time_ms.lt(metrics_cutoff_ms))
        )
        .execute(c))?;
        let b = on_db!(self, |c| diesel::delete(
            system_logs::table.filter(system_logs::time_ms.lt(logs_cutoff_ms))
        )
        .execute(c))?;
        Ok((a + b) as u64)
    }
}

impl Store {
    /// Detections of the nodes whose id starts with `prefix` (the simulator's).
    pub async fn detections_of_prefix(&self, prefix: &str) -> Result<i64, DbError> {
        let pattern = format!("{}%", prefix.replace('%', "\\%").replace('_', "\\_"));
        use diesel::{EscapeExpressionMethods, TextExpressionMethods};
        on_db!(self, |c| detections::table
            .filter(detections::node_id.like(pattern).escape('\\'))
            .count()
            .get_result(c))
    }
}
