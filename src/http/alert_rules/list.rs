use actix_web::{web, HttpResponse};

use super::{view, RuleList};
use crate::http::{ApiError, HttpState};

/// Every alert rule.
#[utoipa::path(get, path = "/api/v1/alerts/rules", tag = "alerts",
    responses((status = 200, description = "The rules", body = RuleList)))]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let rows = state.store.alert_rules().await?;
    Ok(HttpResponse::Ok().json(RuleList {
        items: rows.iter().map(view).collect(),
    }))
}
