//! GEOFENCE_ENTER (open while inside one of the fences; a crossing raises and clears) and
//! GEOFENCE_EXIT (open while outside after leaving). One alert per fence: the subject is
//! the fence id.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Check, Cx};
use crate::entity::EntityEvent;
use crate::geo::{FenceChange, FenceEvent};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FenceParams {
    /// The fences watched; empty: every fence.
    pub geofence_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Enter(FenceParams);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Exit(FenceParams);

impl Check for Enter {
    fn event(&self, e: &EntityEvent, cx: &mut Cx<'_>) {
        fence_event(&self.0, true, e, cx);
    }
}

impl Check for Exit {
    fn event(&self, e: &EntityEvent, cx: &mut Cx<'_>) {
        fence_event(&self.0, false, e, cx);
    }
}

fn fence_event(p: &FenceParams, enter_rule: bool, e: &EntityEvent, cx: &mut Cx<'_>) {
    let Some(FenceEvent {
        change,
        fence,
        name,
        at_ms,
    }) = e.fence()
    else {
        return;
    };
    if !p.geofence_ids.is_empty() && !p.geofence_ids.contains(&fence.0) {
        return;
    }
    let (inside_after, crossed) = match change {
        FenceChange::Entered => (true, false),
        FenceChange::Exited { .. } => (false, false),
        FenceChange::Crossed => (false, true),
    };
    let subject = fence.to_string();
    let details = || {
        let verb = match (enter_rule, crossed) {
            (_, true) => "Crossed",
            (true, false) => "Entered",
            (false, false) => "Left",
        };
        (
            format!("{verb} geofence {name}"),
            json!({"geofence_id": fence, "geofence": name, "crossed": crossed}),
        )
    };
    if crossed {
        if enter_rule {
            cx.begin(&subject, *at_ms, details);
            cx.end(&subject, *at_ms);
        }
    } else if inside_after == enter_rule {
        cx.begin(&subject, *at_ms, details);
    } else {
        cx.end(&subject, *at_ms);
    }
}
