//! An edge node's state machine, without an actor: what each reading and each silence does
//! to it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use urbanstream_schema::NodeId;

use crate::entity::{
    device_time, ConsensusReport, EntityEvent, Health, NodeStatus, Observation, Performance,
    Reading,
};

/// What readers and subscribers see of a node (`edge_node_update`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeNodeSnapshot {
    pub node_id: NodeId,
    pub status: NodeStatus,
    pub cpu_usage: f64,
    pub memory_usage: f64,
    pub network_status: String,
    pub energy_consumption: f64,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub boot: Option<i64>,
    pub last_seq: Option<i64>,
    pub capabilities: serde_json::Value,
    pub performance: Performance,
    pub messages_total: u64,
    pub detections_total: u64,
    /// Messages received again (same boot and sequence): stored once.
    pub redelivered_total: u64,
    /// Sequence numbers skipped.
    pub missing_total: u64,
}

/// The state of one node.
#[derive(Debug, Clone)]
pub struct NodeState {
    pub snapshot: EdgeNodeSnapshot,
    /// The status it last reported of itself (what it returns to after an outage).
    reported: NodeStatus,
    /// The share of votes a consensus outcome needs (more than).
    pub quorum: f64,
}

/// What one reading did.
#[derive(Debug, Default, PartialEq)]
pub struct Observed {
    /// Already seen (same boot, sequence not newer): stored again idempotently, changes
    /// nothing live.
    pub redelivered: bool,
    pub events: Vec<EntityEvent>,
    /// Whether what subscribers see changed.
    pub changed: bool,
}

impl NodeState {
    pub fn new(node_id: NodeId) -> Self {
        Self {
            snapshot: EdgeNodeSnapshot {
                node_id,
                status: NodeStatus::Registered,
                cpu_usage: 0.0,
                memory_usage: 0.0,
                network_status: "good".into(),
                energy_consumption: 0.0,
                last_heartbeat: None,
                last_seen: None,
                boot: None,
                last_seq: None,
                capabilities: serde_json::json!({}),
                performance: Performance::default(),
                messages_total: 0,
                detections_total: 0,
                redelivered_total: 0,
                missing_total: 0,
            },
            reported: NodeStatus::Active,
            quorum: 0.5,
        }
    }

    pub fn status(&self) -> NodeStatus {
        self.snapshot.status
    }

    fn set_status(&mut self, to: NodeStatus, at: DateTime<Utc>, events: &mut Vec<EntityEvent>) {
        let from = self.snapshot.status;
        if from == to {
            return;
        }
        if matches!(from, NodeStatus::Offline | NodeStatus::Registered) && to != NodeStatus::Offline
        {
            events.push(EntityEvent::WentOnline { at });
        }
        if to == NodeStatus::Offline {
            events.push(EntityEvent::WentOffline {
                at,
                last_seen: self.snapshot.last_seen.unwrap_or(at),
            });
        }
        events.push(EntityEvent::StatusChanged { at, from, to });
        self.snapshot.status = to;
    }

    /// Takes one reading received at `received`.
    pub fn observe(&mut self, r: &Reading, received: DateTime<Utc>) -> Observed {
        let s = &mut self.snapshot;
        s.messages_total += 1;
        s.last_seen = Some(received);
        let mut out = Observed::default();
        let at = r.at();
        if let Some(q) = r.sequence {
            match (s.boot, s.last_seq) {
                (Some(boot), _) if q.boot < boot => out.redelivered = true,
                (Some(boot), Some(last)) if q.boot == boot => {
                    if q.seq <= last {
                        out.redelivered = true;
                    } else {
                        if q.seq > last + 1 {
                            s.missing_total += (q.seq - last - 1) as u64;
                            out.events.push(EntityEvent::SequenceGap {
                                at,
                                boot,
                                expected: last + 1,
                                got: q.seq,
                            });
                        }
                        s.last_seq = Some(q.seq);
                    }
                }
                _ => {
                    s.boot = Some(q.boot);
                    s.last_seq = Some(q.seq);
                }
            }
        }
        if out.redelivered {
            s.redelivered_total += 1;
            return out;
        }
        let mut events = std::mem::take(&mut out.events);
        let mut next = None;
        for o in &r.observations {
            match o {
                Observation::Heartbeat(h) => {
                    self.health(h, at);
                    next = Some(h.status);
                }
                Observation::Performance(p) => {
                    let perf = &mut self.snapshot.performance;
                    perf.latency_ms = p.latency_ms.or(perf.latency_ms);
                    perf.bandwidth_saved = p.bandwidth_saved.or(perf.bandwidth_saved);
                    perf.energy_saved = p.energy_saved.or(perf.energy_saved);
                }
                Observation::Detections { detections } => {
                    self.snapshot.detections_total += detections.len() as u64;
                }
                Observation::Consensus(c) => {
                    let computed = consensus_outcome(c, self.quorum);
                    if let (Some(reported), Some(computed)) = (&c.result, &computed) {
                        if reported != computed {
                            events.push(EntityEvent::ConsensusDisagreed {
                                at,
                                round_number: c.round_number,
                                reported: Some(reported.clone()),
                                computed: Some(computed.clone()),
                            });
                        }
                    }
                }
                Observation::Birth(b) => {
                    if let Some(boot) = b.boot {
                        self.snapshot.boot = Some(boot);
                        self.snapshot.last_seq = r.sequence.map(|q| q.seq);
                    }
                    if !b.capabilities.is_null() {
                        self.snapshot.capabilities = b.capabilities.clone();
                    }
                    events.push(EntityEvent::Born { at, boot: b.boot });
                    out.changed = true;
                }
                Observation::Death => {
                    self.set_status(NodeStatus::Offline, at, &mut events);
                    out.changed = true;
                    out.events = events;
                    return out;
                }
                Observation::Robot(_) | Observation::Unreachable { .. } => {}
            }
        }
        let status = match next {
            Some(s) => {
                self.reported = s;
                s
            }
            // Any message is a sign of life: back to what it last said of itself.
            None if matches!(
                self.snapshot.status,
                NodeStatus::Offline | NodeStatus::Registered
            ) =>
            {
                self.reported
            }
            None => self.snapshot.status,
        };
        let before = events.len();
        self.set_status(status, at, &mut events);
        out.changed |= next.is_some() || events.len() > before;
        out.events = events;
        out
    }

    fn health(&mut self, h: &Health, at: DateTime<Utc>) {
        let s = &mut self.snapshot;
        s.cpu_usage = h.cpu_usage;
        s.memory_usage = h.memory_usage;
        if let Some(n) = &h.network_status {
            s.network_status.clone_from(n);
        }
        if let Some(e) = h.energy_consumption {
            s.energy_consumption = e;
        }
        if s.last_heartbeat.is_none_or(|t| t < at) {
            s.last_heartbeat = Some(at);
        }
    }

    /// Nothing heard since `last_seen`: offline once `offline_after` has passed.
    pub fn silence(
        &mut self,
        now: DateTime<Utc>,
        offline_after: chrono::Duration,
    ) -> Vec<EntityEvent> {
        let mut events = Vec::new();
        let Some(last) = self.snapshot.last_seen else {
            return events;
        };
        if matches!(
            self.snapshot.status,
            NodeStatus::Offline | NodeStatus::Registered
        ) {
            return events;
        }
        if now - last >= offline_after {
            self.set_status(NodeStatus::Offline, now, &mut events);
        }
        events
    }
}

/// The outcome of a round from its votes: the value more than `quorum` of the votes agree
/// on (votes are `{voter: value}`; a value may be any JSON), or `None` without a quorum.
pub fn consensus_outcome(c: &ConsensusReport, quorum: f64) -> Option<serde_json::Value> {
    let total = c
        .participants
        .map_or(c.votes.len(), |p| (p.max(0) as usize).max(c.votes.len()));
    if total == 0 {
        return None;
    }
    let mut tally: BTreeMap<String, (usize, &serde_json::Value)> = BTreeMap::new();
    for v in c.votes.values() {
        let e = tally.entry(v.to_string()).or_insert((0, v));
        e.0 += 1;
    }
    tally
        .into_values()
        .max_by_key(|(n, _)| *n)
        .filter(|(n, _)| *n as f64 > quorum * total as f64)
        .map(|(_, v)| v.clone())
}

/// Device time of a reading, for rows.
pub fn at_ms(r: &Reading) -> i64 {
    device_time(r.at_ms).timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{Birth, Facts, Sequence};

    fn reading(at_ms: i64, seq: Option<(i64, i64)>, o: Vec<Observation>) -> Reading {
        Reading {
            at_ms,
            fix: None,
            facts: Facts::default(),
            raw: "{}".into(),
            sequence: seq.map(|(boot, seq)| Sequence { boot, seq }),
            observations: o,
        }
    }

    fn heartbeat(status: NodeStatus) -> Observation {
        Observation::Heartbeat(Health {
            status,
            cpu_usage: 42.0,
            memory_usage: 50.0,
            network_status: Some("good".into()),
            energy_consumption: Some(7.5),
        })
    }

    fn kinds(events: &[EntityEvent]) -> Vec<&'static str> {
        events.iter().map(EntityEvent::kind).collect()
    }

    #[test]
    fn a_node_goes_active_offline_on_silence_and_back() {
        let mut n = NodeState::new("n1".parse().unwrap());
        let t0 = device_time(1_000_000);
        let o = n.observe(
            &reading(1_000_000, Some((1, 1)), vec![heartbeat(NodeStatus::Active)]),
            t0,
        );
        assert_eq!(kinds(&o.events), ["went_online", "status_changed"]);
        assert_eq!(n.status(), NodeStatus::Active);
        assert_eq!(n.snapshot.cpu_usage, 42.0);
        let limit = chrono::Duration::seconds(30);
        assert!(n
            .silence(t0 + chrono::Duration::seconds(29), limit)
            .is_empty());
        let off = n.silence(t0 + chrono::Duration::seconds(30), limit);
        assert_eq!(kinds(&off), ["went_offline", "status_changed"]);
        assert_eq!(n.status(), NodeStatus::Offline);
        assert!(n
            .silence(t0 + chrono::Duration::seconds(90), limit)
            .is_empty());
        // A detection (no heartbeat) brings it back to what it last reported.
        let det = Observation::Detections { detections: vec![] };
        let back = n.observe(
            &reading(1_040_000, Some((1, 2)), vec![det]),
            t0 + chrono::Duration::seconds(40),
        );
        assert_eq!(kinds(&back.events), ["went_online", "status_changed"]);
        assert_eq!(n.status(), NodeStatus::Active);
        let fault = n.observe(
            &reading(1_041_000, Some((1, 3)), vec![heartbeat(NodeStatus::Fault)]),
            t0,
        );
        assert_eq!(kinds(&fault.events), ["status_changed"]);
    }

    #[test]
    fn redeliveries_change_nothing_and_gaps_are_reported() {
        let mut n = NodeState::new("n1".parse().unwrap());
        let t = device_time(0);
        n.observe(
            &reading(1, Some((7, 10)), vec![heartbeat(NodeStatus::Idle)]),
            t,
        );
        let again = n.observe(
            &reading(1, Some((7, 10)), vec![heartbeat(NodeStatus::Fault)]),
            t,
        );
        assert!(again.redelivered);
        assert_eq!(n.status(), NodeStatus::Idle, "a redelivery moves nothing");
        let gap = n.observe(&reading(2, Some((7, 14)), vec![]), t);
        assert_eq!(kinds(&gap.events), ["sequence_gap"]);
        assert_eq!(n.snapshot.missing_total, 3);
        // A new boot starts a new stream; an older boot's message is a redelivery.
        assert!(!n.observe(&reading(3, Some((8, 1)), vec![]), t).redelivered);
        assert!(n.observe(&reading(3, Some((7, 15)), vec![]), t).redelivered);
        // Nodes without sequence numbers are taken as they come.
        assert!(!n.observe(&reading(4, None, vec![]), t).redelivered);
        assert_eq!(n.snapshot.redelivered_total, 2);
    }

    #[test]
    fn birth_and_death() {
        let mut n = NodeState::new("n1".parse().unwrap());
        let t = device_time(0);
        let birth = Observation::Birth(Birth {
            boot: Some(3),
            capabilities: serde_json::json!({"detector": "yolov8n"}),
        });
        let o = n.observe(&reading(1, Some((3, 0)), vec![birth]), t);
        assert_eq!(kinds(&o.events), ["born", "went_online", "status_changed"]);
        assert_eq!(n.snapshot.capabilities["detector"], "yolov8n");
        let d = n.observe(&reading(2, None, vec![Observation::Death]), t);
        assert_eq!(kinds(&d.events), ["went_offline", "status_changed"]);
        assert_eq!(n.status(), NodeStatus::Offline);
    }

    #[test]
    fn consensus_needs_more_than_the_quorum() {
        let votes = |v: serde_json::Value| ConsensusReport {
            round_number: 1,
            votes: v.as_object().cloned().unwrap(),
            result: None,
            participants: None,
            duration_ms: None,
            success: None,
        };
        let c = votes(serde_json::json!({"a": "car", "b": "car", "c": "bus"}));
        assert_eq!(consensus_outcome(&c, 0.5), Some(serde_json::json!("car")));
        assert_eq!(consensus_outcome(&c, 0.7), None);
        let tie = votes(serde_json::json!({"a": 1, "b": 2}));
        assert_eq!(consensus_outcome(&tie, 0.5), None);
        let mut absent = votes(serde_json::json!({"a": true, "b": true}));
        absent.participants = Some(5);
        assert_eq!(consensus_outcome(&absent, 0.5), None, "absent voters count");
    }
}
