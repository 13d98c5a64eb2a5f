pub mod create;
pub mod list;
pub mod revoke;

use serde::Serialize;
use urbanstream_schema::models::ApiKeyRow;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyRow>,
}
