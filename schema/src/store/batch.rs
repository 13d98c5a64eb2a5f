//! One batch of rows of every kind, written in one transaction. The batcher merges batches
//! without knowing their tables; the store writes each table its way (binary COPY on
//! PostgreSQL). A kind with tables of its own adds a field here and its writer in each
//! backend.

use crate::models::{
    ArrivalRow, CanRow, DetectionRow, NewConsensusRound, NewCorroboration, NewEvent,
    NewMqttDeadLetter, NewQuarantined, NewSafetyEvent, NewSystemLog, NodeSampleRow, NodeStateRow,
    PeopleRows, RobotTelemetryRow, SystemMetricsRow, TelemetryRow, TripRow, VehicleStopRow,
};

/// Row counts of a batch, table by table (see [`Batch::mark`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark([usize; 23]);

/// A departure closes its arrival row.
#[derive(Debug, Clone, PartialEq)]
pub struct Departure {
    pub device_id: i64,
    pub stop_id: i64,
    pub arrived_ms: i64,
    pub departed_ms: i64,
    pub dwell_s: f64,
}

/// Rows to store together. Telemetry whose (device, device time) is already stored is
/// skipped, and so is an event (and what it implies) already stored, so a retransmitted
/// frame is stored once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub telemetry: Vec<TelemetryRow>,
    /// CAN values of telemetry rows of this batch.
    pub can: Vec<CanRow>,
    pub events: Vec<NewEvent>,
    /// Closed by `trip_ended` events of this batch.
    pub trips: Vec<TripRow>,
    /// Closed by `stop_ended` events of this batch.
    pub stays: Vec<VehicleStopRow>,
    /// Opened by `stop_arrived` events of this batch.
    pub arrivals: Vec<ArrivalRow>,
    /// Closed by `stop_departed` events of this batch.
    pub departures: Vec<Departure>,
    /// Edge nodes' detections; a redelivered message's are skipped.
    pub detections: Vec<DetectionRow>,
    /// Edge nodes' heartbeats and metrics reports.
    pub node_samples: Vec<NodeSampleRow>,
    /// Edge nodes' latest state (an update of their row).
    pub node_states: Vec<NodeStateRow>,
    pub consensus: Vec<NewConsensusRound>,
    pub system_metrics: Vec<SystemMetricsRow>,
    pub system_logs: Vec<NewSystemLog>,
    /// Messages refused by an adapter, kept for inspection.
    pub dead_letters: Vec<NewMqttDeadLetter>,
    /// Records acknowledged but not taken as they came (a clock out of range, rows the
    /// database refused), kept with why.
    pub quarantine: Vec<NewQuarantined>,
    pub corroborations: Vec<NewCorroboration>,
    /// Robots' telemetry samples; a sample already stored is skipped.
    pub robot_telemetry: Vec<RobotTelemetryRow>,
    pub safety_events: Vec<NewSafetyEvent>,
    /// Tracked people: identities (upserted), trajectory points, sightings, zone events.
    pub people: PeopleRows,
}

impl Batch {
    /// Rows of the batch's own (CAN values and derived rows ride with theirs): what the
    /// batcher's size limits count.
    pub fn len(&self) -> usize {
        self.telemetry.len()
            + self.events.len()
            + self.detections.len()
            + self.node_samples.len()
            + self.node_states.len()
            + self.consensus.len()
            + self.system_metrics.len()
            + self.system_logs.len()
            + self.dead_letters.len()
            + self.quarantine.len()
            + self.corroborations.len()
            + self.robot_telemetry.len()
            + self.safety_events.len()
            + self.people.len()
    }

    pub fn is_empty(&self) -> bool {
        self.telemetry.is_empty()
            && self.can.is_empty()
            && self.events.is_empty()
            && self.trips.is_empty()
            && self.stays.is_empty()
            && self.arrivals.is_empty()
            && self.departures.is_empty()
            && self.detections.is_empty()
            && self.node_samples.is_empty()
            && self.node_states.is_empty()
            && self.consensus.is_empty()
            && self.system_metrics.is_empty()
            && self.system_logs.is_empty()
            && self.dead_letters.is_empty()
            && self.quarantine.is_empty()
            && self.corroborations.is_empty()
            && self.robot_telemetry.is_empty()
            && self.safety_events.is_empty()
            && self.people.is_empty()
    }

    /// Moves every row of `other` to the end of this batch.
    pub fn append(&mut self, mut other: Batch) {
        self.telemetry.append(&mut other.telemetry);
        self.can.append(&mut other.can);
        self.events.append(&mut other.events);
        self.trips.append(&mut other.trips);
        self.stays.append(&mut other.stays);
        self.arrivals.append(&mut other.arrivals);
        self.departures.append(&mut other.departures);
        self.detections.append(&mut other.detections);
        self.node_samples.append(&mut other.node_samples);
        self.node_states.append(&mut other.node_states);
        self.consensus.append(&mut other.consensus);
        self.system_metrics.append(&mut other.system_metrics);
        self.system_logs.append(&mut other.system_logs);
        self.dead_letters.append(&mut other.dead_letters);
        self.quarantine.append(&mut other.quarantine);
        self.corroborations.append(&mut other.corroborations);
        self.robot_telemetry.append(&mut other.robot_telemetry);
        self.safety_events.append(&mut other.safety_events);
        self.people.append(other.people);
    }

    /// Where this batch's rows end, table by table: taken before appending another batch,
    /// marks let the merged batch be cut back into what each caller sent
    /// ([`Batch::cut`]).
    pub fn mark(&self) -> Mark {
        let p = &self.people;
        Mark([
            self.telemetry.len(),
            self.can.len(),
            self.events.len(),
            self.trips.len(),
            self.stays.len(),
            self.arrivals.len(),
            self.departures.len(),
            self.detections.len(),
            self.node_samples.len(),
            self.node_states.len(),
            self.consensus.len(),
            self.system_metrics.len(),
            self.system_logs.len(),
            self.dead_letters.len(),
            self.quarantine.len(),
            self.corroborations.len(),
            self.robot_telemetry.len(),
            self.safety_events.len(),
            p.identities.len(),
            p.points.len(),
            p.sightings.len(),
            p.zone_events.len(),
            p.appearances.len(),
        ])
    }

    /// A copy of the rows between two marks of this batch, every table alike.
    pub fn cut(&self, from: &Mark, to: &Mark) -> Batch {
        fn part<T: Clone>(v: &[T], from: &Mark, to: &Mark, i: usize) -> Vec<T> {
            v.get(from.0[i]..to.0[i]).unwrap_or_default().to_vec()
        }
        let p = &self.people;
        Batch {
            telemetry: part(&self.telemetry, from, to, 0),
            can: part(&self.can, from, to, 1),
            events: part(&self.events, from, to, 2),
            trips: part(&self.trips, from, to, 3),
            stays: part(&self.stays, from, to, 4),
            arrivals: part(&self.arrivals, from, to, 5),
            departures: part(&self.departures, from, to, 6),
            detections: part(&self.detections, from, to, 7),
            node_samples: part(&self.node_samples, from, to, 8),
            node_states: part(&self.node_states, from, to, 9),
            consensus: part(&self.consensus, from, to, 10),
            system_metrics: part(&self.system_metrics, from, to, 11),
            system_logs: part(&self.system_logs, from, to, 12),
            dead_letters: part(&self.dead_letters, from, to, 13),
            quarantine: part(&self.quarantine, from, to, 14),
            corroborations: part(&self.corroborations, from, to, 15),
            robot_telemetry: part(&self.robot_telemetry, from, to, 16),
            safety_events: part(&self.safety_events, from, to, 17),
            people: PeopleRows {
                identities: part(&p.identities, from, to, 18),
                points: part(&p.points, from, to, 19),
                sightings: part(&p.sightings, from, to, 20),
                zone_events: part(&p.zone_events, from, to, 21),
                appearances: part(&p.appearances, from, to, 22),
            },
        }
    }

    /// Whether a row may already be stored (late rows are where retransmits are).
    pub fn has_late(&self) -> bool {
        self.telemetry.iter().any(|r| r.late)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merged_batch_cuts_back_into_what_each_caller_sent() {
        let row = |t: i64| TelemetryRow {
            device_time_ms: t,
            ..TelemetryRow::default()
        };
        let quarantined = |r: &str| NewQuarantined {
            received_ms: 1,
            source: "tracker".into(),
            subject: "1".into(),
            reason: r.into(),
            detail: String::new(),
            payload: String::new(),
        };
        let a = Batch {
            telemetry: vec![row(1), row(2)],
            can: vec![CanRow::default()],
            quarantine: vec![quarantined("a")],
            ..Batch::default()
        };
        let b = Batch {
            telemetry: vec![row(3)],
            quarantine: vec![quarantined("b")],
            ..Batch::default()
        };
        let c = Batch {
            events: vec![NewEvent {
                device_id: 1,
                time_ms: 2,
                kind: "went_online".into(),
                data: "{}".into(),
                subject: String::new(),
            }],
            ..Batch::default()
        };
        let mut merged = Batch::default();
        let mut marks = vec![merged.mark()];
        for part in [a.clone(), b.clone(), c.clone()] {
            merged.append(part);
            marks.push(merged.mark());
        }
        assert_eq!(merged.cut(&marks[0], &marks[1]), a);
        assert_eq!(merged.cut(&marks[1], &marks[2]), b);
        assert_eq!(merged.cut(&marks[2], &marks[3]), c);
        assert_eq!(merged.cut(&marks[0], &marks[3]), merged);
        assert!(merged.cut(&marks[3], &marks[3]).is_empty());
    }

    #[test]
    fn batches_append_and_count_their_own_rows() {
        let mut a = Batch {
            telemetry: vec![TelemetryRow::default()],
            can: vec![CanRow::default()],
            ..Batch::default()
        };
        let b = Batch {
            events: vec![NewEvent {
                device_id: 1,
                time_ms: 2,
                kind: "trip_ended".into(),
                data: "{}".into(),
                subject: String::new(),
            }],
            departures: vec![Departure {
                device_id: 1,
                stop_id: 3,
                arrived_ms: 1,
                departed_ms: 2,
                dwell_s: 0.001,
            }],
            ..Batch::default()
        };
        assert!(Batch::default().is_empty());
        a.append(b);
        assert_eq!(
            a.len(),
            2,
            "telemetry and events; CAN and derived rows ride along"
        );
        assert_eq!((a.can.len(), a.departures.len()), (1, 1));
        assert!(!a.has_late());
    }
}
