use actix_web::{web, HttpResponse};
use urbanstream_schema::models::BusRow;
use urbanstream_schema::store::is_conflict;

use super::{reload, BusBody};
use crate::auth::now_ms;
use crate::http::{ApiError, HttpState};

fn conflict(name: &str) -> impl Fn(urbanstream_schema::store::DbError) -> ApiError + '_ {
    move |e| {
        if is_conflict(&e) {
            ApiError::Conflict(format!("bus {name}: name taken, or robots are on it"))
        } else {
            e.into()
        }
    }
}

/// `GET /api/v1/modbus/buses`.
#[utoipa::path(get, path = "/api/v1/modbus/buses", tag = "robots", responses((status = 200, description = "Every bus", body = [BusRow])))]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.buses().await?))
}

/// `POST /api/v1/modbus/buses`: the bus is opened and its robots polled at once.
#[utoipa::path(post, path = "/api/v1/modbus/buses", tag = "robots", request_body = BusBody, responses((status = 201, description = "Created", body = BusRow), (status = 400, description = "Bad settings", body = crate::http::error::ErrorBody), (status = 409, description = "Name taken", body = crate::http::error::ErrorBody)))]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<BusBody>,
) -> Result<HttpResponse, ApiError> {
    let row = body.into_inner().row(now_ms())?;
    let name = row.name.clone();
    let bus = state.store.create_bus(row).await.map_err(conflict(&name))?;
    reload(&state).await;
    Ok(HttpResponse::Created().json(bus))
}

/// `GET /api/v1/modbus/buses/{id}`.
#[utoipa::path(get, path = "/api/v1/modbus/buses/{id}", tag = "robots", params(("id" = i64, Path, description = "Bus id")), responses((status = 200, description = "The bus", body = BusRow), (status = 404, description = "No such bus", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let bus = state
        .store
        .bus(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("bus {id} does not exist")))?;
    Ok(HttpResponse::Ok().json(bus))
}

/// `PUT /api/v1/modbus/buses/{id}`: new settings; the link reopens when they change it.
#[utoipa::path(put, path = "/api/v1/modbus/buses/{id}", tag = "robots", request_body = BusBody, params(("id" = i64, Path, description = "Bus id")), responses((status = 200, description = "Replaced", body = BusRow), (status = 409, description = "Name taken", body = crate::http::error::ErrorBody), (status = 404, description = "No such bus", body = crate::http::error::ErrorBody)))]
pub async fn replace(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<BusBody>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = body.into_inner().row(now_ms())?;
    let name = row.name.clone();
    let bus = state
        .store
        .update_bus(id, row)
        .await
        .map_err(conflict(&name))?
        .ok_or_else(|| ApiError::NotFound(format!("bus {id} does not exist")))?;
    reload(&state).await;
    Ok(HttpResponse::Ok().json(bus))
}

/// `DELETE /api/v1/modbus/buses/{id}`: only a bus without robots.
#[utoipa::path(delete, path = "/api/v1/modbus/buses/{id}", tag = "robots", params(("id" = i64, Path, description = "Bus id")), responses((status = 204, description = "Deleted"), (status = 404, description = "No such bus", body = crate::http::error::ErrorBody), (status = 409, description = "Robots are on it", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let name = id.to_string();
    if !state.store.delete_bus(id).await.map_err(conflict(&name))? {
        return Err(ApiError::NotFound(format!("bus {id} does not exist")));
    }
    reload(&state).await;
    Ok(HttpResponse::NoContent().finish())
}
