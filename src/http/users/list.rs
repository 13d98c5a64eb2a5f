use actix_web::{web, HttpResponse};
use serde_json::json;

use super::User;
use crate::http::page::Page;
use crate::http::{ApiError, HttpState};

/// Users by id, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    params(Page),
    responses(
        (status = 200, description = "A page of users", body = super::UserPage),
        (status = 400, description = "Bad limit or cursor", body = crate::http::error::ErrorBody),
    )
)]
pub async fn list(
    state: web::Data<HttpState>,
    q: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit()?;
    let rows = state.store.users(q.after(), limit).await?;
    let next = q.next(limit, rows.last().map(|u| u.id), rows.len());
    let items: Vec<User> = rows.into_iter().map(User::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next })))
}
