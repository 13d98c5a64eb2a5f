pub mod list;

use serde::Serialize;
use urbanstream_schema::models::AuditRow;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditRow>,
    pub next_cursor: Option<i64>,
}
