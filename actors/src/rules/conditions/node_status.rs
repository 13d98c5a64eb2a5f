//! NODE_OFFLINE and NODE_FAULT: an edge node's status as its entity decides it (offline: its
//! death message, or nothing heard for `edge.offline_after`; fault: it says so), cleared when
//! it changes back.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{positive, Check, Cx};
use crate::entity::{EntityEvent, EntityKind, NodeStatus};
use crate::rules::logic::Sample;
use crate::rules::RuleError;

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

/// NODE_OFFLINE. `after_s`: how long a node known from before a restart may stay unheard
/// before it is called offline on the server's clock (a running node's actor decides that
/// itself, after `edge.offline_after`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeOffline {
    pub after_s: f64,
}

impl Default for NodeOffline {
    fn default() -> Self {
        Self { after_s: 90.0 }
    }
}

impl Check for NodeOffline {
    fn kind(&self) -> EntityKind {
        EntityKind::EdgeNode
    }

    fn validate(&self) -> Result<(), RuleError> {
        positive("after_s", self.after_s)
    }

    fn event(&self, e: &EntityEvent, cx: &mut Cx<'_>) {
        status(NodeStatus::Offline, e, cx);
    }

    fn sample(&self, s: &Sample, cx: &mut Cx<'_>) {
        // A heartbeat: whatever was said before a restart, the node is there.
        if s.health.is_some() {
            cx.end("", s.received_ms);
        }
    }

    fn unheard(&self, last_ms: i64, now_ms: i64, cx: &mut Cx<'_>) {
        cx.begin_if_silent(self.after_s, "", (last_ms, now_ms), |min| {
            format!("Edge node offline: not heard from for {min:.0} min")
        });
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
