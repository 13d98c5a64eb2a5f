use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_schema::models::AssignmentRow;

use crate::http::transit::reload;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    vehicle_id: i64,
}

/// Puts a vehicle on the route (off any other); its stop arrivals are tracked from its next
/// fix.
#[utoipa::path(post, path = "/api/v1/routes/{id}/vehicles", tag = "transit", request_body = AssignBody,
    params(("id" = i64, Path, description = "Route id")),
    responses((status = 200, description = "Assigned", body = AssignmentRow),
        (status = 404, description = "No such route or vehicle", body = crate::http::error::ErrorBody)))]
pub async fn assign(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<AssignBody>,
) -> Result<HttpResponse, ApiError> {
    if state.store.route(*id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no route {id}")));
    }
    if state.store.vehicle(body.vehicle_id).await?.is_none() {
        return Err(ApiError::NotFound(format!(
            "no vehicle {}",
            body.vehicle_id
        )));
    }
    let row = AssignmentRow {
        vehicle_id: body.vehicle_id,
        route_id: *id,
        assigned_ms: crate::auth::now_ms(),
    };
    state.store.assign_route(row.clone()).await?;
    reload(&state).await?;
    Ok(HttpResponse::Ok().json(row))
}
