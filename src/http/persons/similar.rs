use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{person, Person};
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SimilarQuery {
    /// Only people of this session (default: every session kept).
    pub session_id: Option<i64>,
    /// 1..=100, default 10.
    pub limit: Option<usize>,
    /// Leave out matches below this cosine similarity (-1..=1, default 0).
    pub min_similarity: Option<f32>,
}

/// A person and how alike they look.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarPerson {
    pub person: Person,
    /// Cosine similarity of the two learnt appearances (1: the same).
    pub similarity: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarList {
    pub person: Person,
    pub items: Vec<SimilarPerson>,
}

/// Candidates compared at most (the latest updated first).
const CANDIDATES: i64 = 100_000;

fn parse(v: &str) -> Option<Vec<f32>> {
    serde_json::from_str(v).ok()
}

fn cosine(a: &[f32], b: &[f32]) -> Option<f32> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    (aa > 0.0 && bb > 0.0).then(|| ab / (aa.sqrt() * bb.sqrt()))
}

/// `GET /api/v1/persons/{id}/similar`: people who look like this one — the same person seen
/// in another session or after leaving every view — ranked by how alike their learnt
/// appearances are (recorded where `cameras.record.appearance` is on).
#[utoipa::path(get, path = "/api/v1/persons/{id}/similar", tag = "cameras", params(("id" = i64, Path, description = "Person id"), SimilarQuery), responses((status = 200, description = "The most alike first", body = SimilarList), (status = 400, description = "Bad limit or threshold", body = crate::http::error::ErrorBody), (status = 404, description = "No such person", body = crate::http::error::ErrorBody), (status = 409, description = "No appearance recorded for the person", body = crate::http::error::ErrorBody)))]
pub async fn similar(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    q: web::Query<SimilarQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 100".into()));
    }
    let floor = q.min_similarity.unwrap_or(0.0);
    if !(-1.0..=1.0).contains(&floor) {
        return Err(ApiError::BadRequest(
            "min_similarity must be within [-1, 1]".into(),
        ));
    }
    let me = person(&state, id.into_inner()).await?;
    let mine = state
        .store
        .appearance(me.session_id, me.global_id)
        .await?
        .and_then(|a| parse(&a.vector))
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "no appearance is recorded for person {}: cameras.record.appearance is off, or no camera sent one",
                me.id
            ))
        })?;
    let candidates = state.store.appearances(q.session_id, CANDIDATES).await?;
    let me_key = (me.session_id, me.global_id);
    // Up to CANDIDATES vectors to parse and compare: on a blocking thread, not the server's.
    let ranked = web::block(move || {
        let mut ranked: Vec<((i64, i64), f32)> = candidates
            .into_iter()
            .filter(|a| (a.session_id, a.global_id) != me_key)
            .filter_map(|a| {
                let s = cosine(&mine, &parse(&a.vector)?)?;
                (s >= floor).then_some(((a.session_id, a.global_id), s))
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(limit);
        ranked
    })
    .await
    .map_err(ApiError::internal)?;
    let rows = state
        .store
        .persons_by_keys(ranked.iter().map(|r| r.0).collect())
        .await?;
    let items = ranked
        .iter()
        .filter_map(|(key, s)| {
            let row = rows.iter().find(|r| (r.session_id, r.global_id) == *key)?;
            Some(SimilarPerson {
                person: Person::from_row(row),
                similarity: *s,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(SimilarList {
        person: Person::from_row(&me),
        items,
    }))
}

#[cfg(test)]
mod tests {
    use super::cosine;

    #[test]
    fn cosine_of_alike_and_unlike() {
        assert_eq!(cosine(&[1.0, 0.0], &[2.0, 0.0]), Some(1.0));
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 3.0]), Some(0.0));
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), None);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), None);
    }
}
