use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;
use urbanstream_schema::models::NewQuarantined;
use urbanstream_schema::store::batch::Mark;
use urbanstream_schema::store::{Batch, Store};

use super::messages::Persist;
use crate::errors::StorageError;
use crate::metrics::*;

#[derive(Debug, Clone)]
pub struct BatcherSettings {
    /// Flush as soon as this many rows wait.
    pub batch_rows: usize,
    /// Flush rows that waited this long, however few.
    pub batch_interval: Duration,
    /// Rows waiting or being written, at most; beyond, callers get `Overloaded`.
    pub max_pending_rows: usize,
    /// Transactions in flight at once.
    pub max_in_flight: usize,
    /// First retry delay after a failed flush; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for BatcherSettings {
    fn default() -> Self {
        Self {
            batch_rows: 2_000,
            batch_interval: Duration::from_millis(5),
            max_pending_rows: 200_000,
            max_in_flight: 2,
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// One caller's rows within a merged batch (between two marks), and the caller.
struct Part {
    waiter: oneshot::Sender<Result<(), StorageError>>,
    from: Mark,
    to: Mark,
}

/// Rows waiting for the next write, and who waits for them.
#[derive(Default)]
struct Pending {
    batch: Batch,
    parts: Vec<Part>,
}

/// A batch being written: shared, so that a retry does not copy it.
struct Sealed {
    batch: Arc<Batch>,
    parts: Vec<Part>,
    /// Times this batch, one caller's alone, was refused while the database answered.
    refused: u32,
}

/// A batch of one caller refused this many times with the database up is quarantined.
const REFUSALS_BEFORE_QUARANTINE: u32 = 2;
/// The most of a refused batch's text kept in the quarantine.
const QUARANTINE_PAYLOAD_LIMIT: usize = 1 << 20;

/// One per process: buffers rows of every kind, writes them in batches, retries with
/// backoff. It knows no table: a `Batch` is written by the store.
///
/// A failed write is retried as a whole while the database is unreachable. When the
/// database answers but refuses the batch, the rows of one caller are at fault (a value it
/// will never take): the batch is cut back into each caller's rows and those written on
/// their own, so that the others are answered at once; a caller's rows refused again are
/// kept in the quarantine table with the database's reason, and the caller answered, so
/// that one bad row never holds anyone's acknowledgement for good.
pub struct DbBatcherActor {
    store: Store,
    settings: BatcherSettings,
    pending: Pending,
    timer: Option<SpawnHandle>,
    in_flight: usize,
    in_flight_rows: usize,
}

impl DbBatcherActor {
    pub fn new(store: Store, settings: BatcherSettings) -> Self {
        Self {
            store,
            settings,
            pending: Pending::default(),
            timer: None,
            in_flight: 0,
            in_flight_rows: 0,
        }
    }

    fn queued_rows(&self) -> usize {
        self.pending.batch.len() + self.in_flight_rows
    }

    fn maybe_flush(&mut self, ctx: &mut Context<Self>) {
        if self.pending.batch.is_empty() {
            return;
        }
        if self.pending.batch.len() >= self.settings.batch_rows
            && self.in_flight < self.settings.max_in_flight
        {
            self.flush(ctx);
        } else if self.timer.is_none() {
            self.timer = Some(ctx.run_later(self.settings.batch_interval, |act, ctx| {
                act.timer = None;
                if act.in_flight < act.settings.max_in_flight {
                    act.flush(ctx);
                } else {
                    // Everything in flight: try again once a flush finishes.
                    act.maybe_flush(ctx);
                }
            }));
        }
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if let Some(t) = self.timer.take() {
            ctx.cancel_future(t);
        }
        let pending = std::mem::take(&mut self.pending);
        if pending.batch.is_empty() {
            return;
        }
        self.in_flight += 1;
        self.in_flight_rows += pending.batch.len();
        let sealed = Sealed {
            batch: Arc::new(pending.batch),
            parts: pending.parts,
            refused: 0,
        };
        self.write(sealed, self.settings.min_backoff, ctx);
    }

    fn write(&mut self, batch: Sealed, backoff: Duration, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let rows = Arc::clone(&batch.batch);
        let n = rows.len();
        let telemetry = rows.telemetry.len();
        let started = Instant::now();
        ctx.spawn(async move { store.write(rows).await }.into_actor(self).map(
            move |res, act, ctx| match res {
                Ok(written) => {
                    metrics::counter!(DB_ROWS_WRITTEN_TOTAL, "table" => "telemetry")
                        .increment(written as u64);
                    metrics::counter!(DB_ROWS_DUPLICATE_TOTAL, "table" => "telemetry")
                        .increment(telemetry.saturating_sub(written) as u64);
                    metrics::histogram!(DB_BATCH_ROWS).record(n as f64);
                    metrics::histogram!(DB_FLUSH_SECONDS).record(started.elapsed().as_secs_f64());
                    act.finish(batch, Ok(()), ctx);
                }
                Err(e) => {
                    metrics::counter!(DB_FLUSH_FAILURES_TOTAL, "error_kind" => e.kind())
                        .increment(1);
                    act.failed(batch, e.to_string(), backoff, ctx);
                }
            },
        ));
    }

    /// Answers every caller of a batch that is done with and lets the next one go.
    fn finish(&mut self, batch: Sealed, answer: Result<(), StorageError>, ctx: &mut Context<Self>) {
        for p in batch.parts {
            let _ = p.waiter.send(answer.clone());
        }
        self.in_flight -= 1;
        self.in_flight_rows -= batch.batch.len();
        metrics::gauge!(DB_QUEUE_ROWS).set(self.queued_rows() as f64);
        self.maybe_flush(ctx);
    }

    /// A write failed: retry it whole while the database is unreachable; when it answers,
    /// cut the batch into its callers' rows, and quarantine a caller's rows refused again.
    fn failed(
        &mut self,
        mut batch: Sealed,
        error: String,
        backoff: Duration,
        ctx: &mut Context<Self>,
    ) {
        let n = batch.batch.len();
        batch.parts.retain(|p| !p.waiter.is_closed());
        if batch.parts.is_empty() {
            // Nobody waits any more: those sessions closed without an ACK and their devices
            // will send the records again.
            tracing::warn!(
                rows = n,
                "database write failed ({error}); batch abandoned, unacknowledged"
            );
            self.finish(batch, Ok(()), ctx);
            return;
        }
        let store = self.store.clone();
        ctx.spawn(async move { store.ping().await.is_ok() }.into_actor(self).map(
            move |up, act, ctx| {
                let next = (backoff * 2).min(act.settings.max_backoff);
                if !up {
                    tracing::warn!(rows = n, retry_in = ?backoff, "database write failed: {error}");
                    ctx.run_later(backoff, move |act, ctx| act.write(batch, next, ctx));
                    return;
                }
                if batch.parts.len() > 1 {
                    tracing::warn!(
                        rows = n,
                        callers = batch.parts.len(),
                        "database refused a batch ({error}); writing each caller's rows alone"
                    );
                    act.split(batch, ctx);
                    return;
                }
                batch.refused += 1;
                if batch.refused < REFUSALS_BEFORE_QUARANTINE {
                    tracing::warn!(rows = n, retry_in = ?backoff, "database refused a caller's rows: {error}");
                    ctx.run_later(backoff, move |act, ctx| act.write(batch, next, ctx));
                } else {
                    act.quarantine(batch, error, ctx);
                }
            },
        ));
    }

    /// Each caller's rows of `batch` as a batch of its own, written at once.
    fn split(&mut self, batch: Sealed, ctx: &mut Context<Self>) {
        self.in_flight += batch.parts.len() - 1;
        // The parts' rows replace the batch's in the count (closed callers' rows are gone).
        self.in_flight_rows -= batch.batch.len();
        for p in batch.parts {
            let rows = batch.batch.cut(&p.from, &p.to);
            let to = rows.mark();
            self.in_flight_rows += rows.len();
            let sealed = Sealed {
                batch: Arc::new(rows),
                parts: vec![Part {
                    waiter: p.waiter,
                    from: Mark::default(),
                    to,
                }],
                refused: 0,
            };
            self.write(sealed, self.settings.min_backoff, ctx);
        }
    }

    /// One caller's rows that the database keeps refusing: kept as text in the quarantine
    /// with the reason, and the caller answered once that is committed.
    fn quarantine(&mut self, batch: Sealed, error: String, ctx: &mut Context<Self>) {
        let mut payload = format!("{:?}", batch.batch);
        if payload.len() > QUARANTINE_PAYLOAD_LIMIT {
            let mut end = QUARANTINE_PAYLOAD_LIMIT;
            while !payload.is_char_boundary(end) {
                end -= 1;
            }
            payload.truncate(end);
        }
        let row = NewQuarantined {
            received_ms: chrono::Utc::now().timestamp_millis(),
            source: "database".into(),
            subject: String::new(),
            reason: "database_refused".into(),
            detail: error.clone(),
            // Debug text escapes what PostgreSQL takes in no text value (NUL).
            payload,
        };
        let store = self.store.clone();
        let rows = batch.batch.len();
        let kept = Batch {
            quarantine: vec![row],
            ..Batch::default()
        };
        ctx.spawn(async move { store.write(kept).await }.into_actor(self).map(
            move |res, act, ctx| match res {
                Ok(_) => {
                    metrics::counter!(DB_ROWS_QUARANTINED_TOTAL).increment(1);
                    tracing::error!(rows, "database refused a caller's rows for good ({error}); kept in the quarantine");
                    act.finish(batch, Ok(()), ctx);
                }
                Err(e) => {
                    tracing::warn!(rows, "refused rows not quarantined either ({e}); caller not answered");
                    let refused = StorageError::Database {
                        kind: "refused",
                        message: error,
                    };
                    act.finish(batch, Err(refused), ctx);
                }
            },
        ));
    }
}

impl Actor for DbBatcherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(65_536);
    }
}

impl Supervised for DbBatcherActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        metrics::counter!(ACTOR_RESTARTS_TOTAL, "actor" => "db_batcher").increment(1);
        // Waiters of the lost batches see their channel closed and answer with an error;
        // their devices resend.
        self.pending = Pending::default();
        self.timer = None;
        self.in_flight = 0;
        self.in_flight_rows = 0;
    }
}

impl Handler<Persist> for DbBatcherActor {
    type Result = ResponseFuture<Result<(), StorageError>>;

    fn handle(&mut self, Persist(batch): Persist, ctx: &mut Self::Context) -> Self::Result {
        if batch.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        if self.queued_rows() + batch.len() > self.settings.max_pending_rows {
            metrics::counter!(DB_REJECTED_TOTAL, "reason" => "overloaded").increment(1);
            return Box::pin(async { Err(StorageError::Overloaded) });
        }
        let (tx, rx) = oneshot::channel();
        let from = self.pending.batch.mark();
        self.pending.batch.append(batch);
        self.pending.parts.push(Part {
            waiter: tx,
            from,
            to: self.pending.batch.mark(),
        });
        metrics::gauge!(DB_QUEUE_ROWS).set(self.queued_rows() as f64);
        self.maybe_flush(ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(StorageError::Lost)) })
    }
}

impl Handler<super::messages::RestartActor> for DbBatcherActor {
    type Result = ();

    fn handle(&mut self, _msg: super::messages::RestartActor, ctx: &mut Self::Context) {
        tracing::warn!("database batcher told to restart");
        ctx.stop();
    }
}
