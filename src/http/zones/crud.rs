use actix_web::{web, HttpResponse};

use super::{reload, Zone, ZoneBody, ZoneList};
use crate::http::{ApiError, HttpState};

fn conflict_or(e: urbanstream_schema::store::DbError) -> ApiError {
    if urbanstream_schema::store::is_conflict(&e) {
        ApiError::Conflict("a zone of that name exists".into())
    } else {
        e.into()
    }
}

/// `GET /api/v1/zones`: the site's zones.
#[utoipa::path(get, path = "/api/v1/zones", tag = "cameras", responses((status = 200, description = "Every zone", body = ZoneList)))]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let rows = state
        .store
        .zones(Some(state.environment.id.clone()))
        .await?;
    Ok(HttpResponse::Ok().json(ZoneList {
        items: rows.iter().map(Zone::from_row).collect(),
    }))
}

/// `POST /api/v1/zones`: a new zone; people are judged against it from the next instant.
#[utoipa::path(post, path = "/api/v1/zones", tag = "cameras", request_body = ZoneBody, responses((status = 201, description = "The zone", body = Zone), (status = 400, description = "Bad polygon", body = crate::http::error::ErrorBody), (status = 409, description = "Name taken", body = crate::http::error::ErrorBody)))]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<ZoneBody>,
) -> Result<HttpResponse, ApiError> {
    let zone = body
        .into_inner()
        .validate(&state.environment.id, crate::auth::now_ms())?;
    let row = state.store.create_zone(zone).await.map_err(conflict_or)?;
    reload(&state).await?;
    Ok(HttpResponse::Created().json(Zone::from_row(&row)))
}

/// `GET /api/v1/zones/{id}`.
#[utoipa::path(get, path = "/api/v1/zones/{id}", tag = "cameras", params(("id" = i64, Path, description = "Zone id")), responses((status = 200, description = "The zone", body = Zone), (status = 404, description = "No such zone", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = state
        .store
        .zone(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("zone {id} not found")))?;
    Ok(HttpResponse::Ok().json(Zone::from_row(&row)))
}

/// `PUT /api/v1/zones/{id}`: a zone's name, kind and polygon replaced.
#[utoipa::path(put, path = "/api/v1/zones/{id}", tag = "cameras", params(("id" = i64, Path, description = "Zone id")), request_body = ZoneBody, responses((status = 200, description = "The zone", body = Zone), (status = 404, description = "No such zone", body = crate::http::error::ErrorBody)))]
pub async fn replace(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<ZoneBody>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let zone = body
        .into_inner()
        .validate(&state.environment.id, crate::auth::now_ms())?;
    let row = state
        .store
        .replace_zone(id, zone)
        .await
        .map_err(conflict_or)?
        .ok_or_else(|| ApiError::NotFound(format!("zone {id} not found")))?;
    reload(&state).await?;
    Ok(HttpResponse::Ok().json(Zone::from_row(&row)))
}

/// `DELETE /api/v1/zones/{id}`: people inside leave it now; its recorded events stay.
#[utoipa::path(delete, path = "/api/v1/zones/{id}", tag = "cameras", params(("id" = i64, Path, description = "Zone id")), responses((status = 204, description = "Deleted"), (status = 404, description = "No such zone", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !state.store.delete_zone(id).await? {
        return Err(ApiError::NotFound(format!("zone {id} not found")));
    }
    reload(&state).await?;
    Ok(HttpResponse::NoContent().finish())
}
