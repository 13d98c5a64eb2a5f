//! Keyset pagination: `?limit&cursor`, where the cursor is the last id of the previous page.

use serde::Deserialize;

use super::ApiError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// 1..=1000, default 100.
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
}

/// A page size: 1..=1000, default 100.
pub fn limit(asked: Option<i64>) -> Result<i64, ApiError> {
    let limit = asked.unwrap_or(100);
    if (1..=1000).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::BadRequest(format!(
            "limit must be 1..=1000, got {limit}"
        )))
    }
}

impl Page {
    pub fn limit(&self) -> Result<i64, ApiError> {
        limit(self.limit)
    }

    /// Items come after this id.
    pub fn after(&self) -> i64 {
        self.cursor.unwrap_or(0)
    }

    /// The cursor of the page after `ids`, if it was full.
    pub fn next(&self, limit: i64, last_id: Option<i64>, count: usize) -> Option<i64> {
        (count as i64 == limit).then_some(last_id).flatten()
    }
}

/// A streamed export: the CSV header line (or `[` for JSON), then `chunks`, served as an
/// attachment named `{name}.csv` or `{name}.json`.
pub fn streamed_export<S>(
    csv: bool,
    csv_header: &'static str,
    chunks: S,
    name: &str,
) -> actix_web::HttpResponse
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, actix_web::Error>> + 'static,
{
    use futures_util::StreamExt;
    let head = bytes::Bytes::from_static(if csv { csv_header.as_bytes() } else { b"[" });
    let body = futures_util::stream::once(std::future::ready(Ok(head))).chain(chunks);
    let (kind, ext) = if csv {
        ("text/csv; charset=utf-8", "csv")
    } else {
        ("application/json", "json")
    };
    actix_web::HttpResponse::Ok()
        .content_type(kind)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}.{ext}\""),
        ))
        .streaming(body)
}
