//! Quarantined records, written once for both backends.

use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};

use super::{DbError, Store};
use crate::models::QuarantinedRow;
use crate::schema::quarantine;

/// Which quarantined records to list: newest first, before `before_id` when paging.
#[derive(Debug, Clone, Default)]
pub struct QuarantineFilter {
    pub source: Option<String>,
    pub subject: Option<String>,
    pub reason: Option<String>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Store {
    pub async fn quarantined(&self, f: QuarantineFilter) -> Result<Vec<QuarantinedRow>, DbError> {
        on_db!(self, |c| {
            let mut q = quarantine::table.into_boxed();
            if let Some(s) = &f.source {
                q = q.filter(quarantine::source.eq(s.clone()));
            }
            if let Some(s) = &f.subject {
                q = q.filter(quarantine::subject.eq(s.clone()));
            }
            if let Some(r) = &f.reason {
                q = q.filter(quarantine::reason.eq(r.clone()));
            }
            if let Some(id) = f.before_id {
                q = q.filter(quarantine::id.lt(id));
            }
            q.order(quarantine::id.desc())
                .limit(f.limit)
                .select(QuarantinedRow::as_select())
                .load(c)
        })
    }
}
