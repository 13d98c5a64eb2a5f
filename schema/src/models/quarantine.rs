//! What was acknowledged but not taken as it came, kept for an operator.

use diesel::prelude::*;
use serde::Serialize;

use crate::schema::quarantine;

/// One quarantined record or set of rows.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = quarantine)]
pub struct NewQuarantined {
    pub received_ms: i64,
    /// `tracker`, `edge_node`, `robot`, or `database` for rows the database refused.
    pub source: String,
    /// The device it came from (IMEI, node id, robot id); empty when unknown.
    pub subject: String,
    /// Bounded: `time_out_of_range`, `database_refused`.
    pub reason: String,
    pub detail: String,
    /// What was received, as text (a record as JSON, refused rows as written).
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = quarantine)]
pub struct QuarantinedRow {
    pub id: i64,
    pub received_ms: i64,
    pub source: String,
    pub subject: String,
    pub reason: String,
    pub detail: String,
    pub payload: String,
}
