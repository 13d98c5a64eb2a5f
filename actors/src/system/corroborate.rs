//! Corroboration: detections of one object type by at least `min_nodes` different nodes
//! within `window` (and, where both nodes have positions, within `max_distance_m` of each
//! other) become one corroborated event. One event per object type per window: the nodes
//! that join while it lasts add nothing new.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;
use urbanstream_schema::NodeId;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorroborationSettings {
    /// 0 turns corroboration off.
    pub min_nodes: usize,
    pub window_ms: i64,
    /// 0: any distance.
    pub max_distance_m: f64,
}

/// One corroborated event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Corroborated {
    pub object_type: String,
    /// The first and the last detection that make it.
    pub first_ms: i64,
    pub at_ms: i64,
    /// The nodes that saw it, in the order they did.
    pub nodes: Vec<NodeId>,
}

/// A detection: when, by whom, where that node is (when known).
type Sighting = (i64, NodeId, Option<(f64, f64)>);

#[derive(Default)]
struct Recent {
    seen: VecDeque<Sighting>,
    /// Until when a new event of this type is held back.
    quiet_until_ms: i64,
}

#[derive(Default)]
pub struct Corroborator {
    by_type: HashMap<String, Recent>,
}

impl Corroborator {
    /// `node` (at `position`, when known) saw `object_type` at `at_ms`.
    pub fn observe(
        &mut self,
        s: &CorroborationSettings,
        node: NodeId,
        position: Option<(f64, f64)>,
        object_type: &str,
        at_ms: i64,
    ) -> Option<Corroborated> {
        if s.min_nodes < 2 {
            return None;
        }
        let r = self.by_type.entry(object_type.to_owned()).or_default();
        r.seen.push_back((at_ms, node, position));
        while r
            .seen
            .front()
            .is_some_and(|(t, _, _)| *t < at_ms - s.window_ms)
        {
            r.seen.pop_front();
        }
        if at_ms < r.quiet_until_ms {
            return None;
        }
        let near = |p: Option<(f64, f64)>| match (p, position) {
            (Some(a), Some(b)) if s.max_distance_m > 0.0 => {
                crate::geo::haversine_m(a, b) <= s.max_distance_m
            }
            _ => true,
        };
        let mut nodes: Vec<NodeId> = Vec::new();
        let mut first_ms = at_ms;
        for (t, n, p) in r
            .seen
            .iter()
            .filter(|(t, _, _)| (at_ms - *t).abs() <= s.window_ms)
        {
            if near(*p) && !nodes.contains(n) {
                nodes.push(*n);
                first_ms = first_ms.min(*t);
            }
        }
        if nodes.len() < s.min_nodes {
            return None;
        }
        r.quiet_until_ms = at_ms + s.window_ms;
        Some(Corroborated {
            object_type: object_type.to_owned(),
            first_ms,
            at_ms,
            nodes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        s.parse().unwrap()
    }

    #[test]
    fn two_nodes_within_the_window_and_the_distance_make_one_event() {
        let s = CorroborationSettings {
            min_nodes: 2,
            window_ms: 2_000,
            max_distance_m: 200.0,
        };
        let mut c = Corroborator::default();
        let gate = Some((44.7700, 17.1900));
        let next_door = Some((44.7705, 17.1900)); // 56 m away
        let far = Some((44.8000, 17.1900)); // 3.3 km away
        assert_eq!(c.observe(&s, id("a"), gate, "person", 1_000), None);
        assert_eq!(
            c.observe(&s, id("a"), gate, "person", 1_500),
            None,
            "one node is not two"
        );
        assert_eq!(
            c.observe(&s, id("far"), far, "person", 1_600),
            None,
            "too far"
        );
        assert_eq!(
            c.observe(&s, id("b"), next_door, "car", 1_700),
            None,
            "another type"
        );
        let e = c.observe(&s, id("b"), next_door, "person", 2_000).unwrap();
        assert_eq!(e.nodes, [id("a"), id("b")]);
        assert_eq!((e.first_ms, e.at_ms), (1_000, 2_000));
        assert_eq!(
            c.observe(&s, id("c"), gate, "person", 2_500),
            None,
            "once per window"
        );
        // Later, outside the window of the first ones: a new event needs two nodes again.
        assert_eq!(c.observe(&s, id("a"), gate, "person", 9_000), None);
        assert!(
            c.observe(&s, id("c"), None, "person", 9_100).is_some(),
            "no position: any distance"
        );
        let off = CorroborationSettings { min_nodes: 0, ..s };
        assert_eq!(c.observe(&off, id("a"), gate, "person", 20_000), None);
    }
}
