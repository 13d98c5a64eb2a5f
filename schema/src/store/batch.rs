//! One batch of rows of every kind, written in one transaction. The batcher merges batches
//! without knowing their tables; the store writes each table its way (binary COPY on
//! PostgreSQL). A kind with tables of its own adds a field here and its writer in each
//! backend.

use crate::models::{ArrivalRow, CanRow, NewEvent, TelemetryRow, TripRow, VehicleStopRow};

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
}

impl Batch {
    /// Rows of the batch's own (CAN values and derived rows ride with theirs): what the
    /// batcher's size limits count.
    pub fn len(&self) -> usize {
        self.telemetry.len() + self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.telemetry.is_empty()
            && self.can.is_empty()
            && self.events.is_empty()
            && self.trips.is_empty()
            && self.stays.is_empty()
            && self.arrivals.is_empty()
            && self.departures.is_empty()
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
