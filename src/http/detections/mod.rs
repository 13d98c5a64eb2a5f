//! Stored detections: `GET /api/v1/detections` (filtered, keyset pages) and its streamed
//! CSV or JSON export.

pub mod export;
pub mod list;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use urbanstream_schema::models::DetectionRow;
use urbanstream_schema::store::DetectionFilter;

use super::nodes::parse_node;
use super::ApiError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DetectionQuery {
    /// Node id.
    pub node: Option<String>,
    pub stream: Option<String>,
    pub object_type: Option<String>,
    /// 0..=1.
    pub min_confidence: Option<f64>,
    /// RFC 3339; default 24 h before `to`.
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive; default now.
    pub to: Option<DateTime<Utc>>,
    /// 1..=1000, default 100 (list only).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (list only).
    pub cursor: Option<String>,
    /// `csv` or `json` (export only; default csv).
    pub format: Option<String>,
}

impl DetectionQuery {
    pub(crate) fn filter(&self, limit: i64) -> Result<DetectionFilter, ApiError> {
        let to = self.to.unwrap_or_else(Utc::now);
        let from = self.from.unwrap_or(to - chrono::Duration::hours(24));
        if from >= to {
            return Err(ApiError::BadRequest("`from` must be before `to`".into()));
        }
        if let Some(n) = &self.node {
            parse_node(n)?;
        }
        if self
            .min_confidence
            .is_some_and(|c| !(0.0..=1.0).contains(&c))
        {
            return Err(ApiError::BadRequest("min_confidence must be 0 to 1".into()));
        }
        Ok(DetectionFilter {
            node: self.node.clone(),
            stream: self.stream.clone(),
            object_type: self.object_type.clone(),
            min_confidence: self.min_confidence,
            from_ms: from.timestamp_millis(),
            to_ms: to.timestamp_millis(),
            after: self.cursor.as_deref().map(parse_cursor).transpose()?,
            limit,
        })
    }
}

/// `time.node.boot.seq.idx`, the last row of a page.
pub(crate) fn cursor(r: &DetectionRow) -> String {
    format!("{}.{}.{}.{}.{}", r.time_ms, r.node_id, r.boot, r.seq, r.idx)
}

fn parse_cursor(s: &str) -> Result<(i64, String, i64, i64, i32), ApiError> {
    let bad = || ApiError::BadRequest(format!("cursor `{s}` is not one this API gave"));
    let (time, rest) = s.split_once('.').ok_or_else(bad)?;
    let mut tail = rest.rsplitn(4, '.');
    let idx = tail.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let seq = tail.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let boot = tail.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let node = tail.next().ok_or_else(bad)?;
    parse_node(node)?;
    Ok((
        time.parse().map_err(|_e: std::num::ParseIntError| bad())?,
        node.to_owned(),
        boot,
        seq,
        idx,
    ))
}

/// A detection as the API shows it: the plan's fields, `bbox` as an object.
pub(crate) fn detection_json(r: &DetectionRow) -> serde_json::Value {
    json!({
        "node_id": r.node_id,
        "timestamp": DateTime::<Utc>::from_timestamp_millis(r.time_ms),
        "received_at": DateTime::<Utc>::from_timestamp_millis(r.received_ms),
        "boot": r.boot,
        "seq": (r.seq >= 0).then_some(r.seq),
        "index": r.idx,
        "stream_id": r.stream_id,
        "object_type": r.object_type,
        "confidence": r.confidence,
        "bbox": {
            "x": r.bbox_x, "y": r.bbox_y, "width": r.bbox_width, "height": r.bbox_height,
            "normalized": r.bbox_normalized,
        },
        "location": r.location,
        "metadata": serde_json::from_str::<serde_json::Value>(&r.metadata).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_with_dots_in_node_ids() {
        let row = DetectionRow {
            node_id: "cam.7-a".into(),
            time_ms: 1_764_669_600_000,
            boot: 3,
            seq: -1,
            idx: 2,
            received_ms: 0,
            stream_id: "s".into(),
            object_type: "car".into(),
            confidence: 0.5,
            bbox_x: 0.0,
            bbox_y: 0.0,
            bbox_width: 1.0,
            bbox_height: 1.0,
            bbox_normalized: false,
            location: None,
            metadata: "{}".into(),
        };
        let c = cursor(&row);
        assert_eq!(
            parse_cursor(&c).unwrap(),
            (1_764_669_600_000, "cam.7-a".to_owned(), 3, -1, 2)
        );
        assert!(parse_cursor("12.x").is_err());
    }
}
