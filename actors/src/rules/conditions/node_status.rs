//! NODE_OFFLINE and NODE_FAULT: an edge node's status as its entity decides it (offline: its
//! death message, or nothing heard for `edge.offline_after`; fault: it says so), cleared when
//! it changes back.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Check, Cx};
use crate::entity::{EntityEvent, EntityKind, NodeStatus};
use crate::rules::logic::Sample;

fn status(status: NodeStatus, e: &EntityEvent, cx: &mut Cx<'_>) {
    let EntityEvent::StatusChanged { at, from, to } = e else {
        return;
    };
    let at_ms = at.timestamp_millis();
    if *to == status {
        let from = *from;
        cx.begin("", at_ms, || {
            (
                format!("Edge node {} (was {})", status.as_str(), from.as_str()),
                json!({"from": from, "to": status}),
            )
        });
    } else if *from == status {
        cx.end("", at_ms);
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeOffline {}

impl Check for NodeOffline {
    fn kind(&self) -> EntityKind {
        EntityKind::EdgeNode
    }

    fn event(&self, e: &EntityEvent, cx: &mut Cx<'_>) {
        status(NodeStatus::Offline, e, cx);
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeFault {}

impl Check for NodeFault {
    fn kind(&self) -> EntityKind {
        EntityKind::EdgeNode
    }

    fn event(&self, e: &EntityEvent, cx: &mut Cx<'_>) {
        status(NodeStatus::Fault, e, cx);
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        // A heartbeat that is not a fault clears a fault raised before a restart.
        if s.health
            .as_ref()
            .is_some_and(|h| h.status != NodeStatus::Fault)
        {
            cx.end("", s.at_ms);
        }
    }
}
