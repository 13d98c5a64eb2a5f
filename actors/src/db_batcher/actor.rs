use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;
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

type Waiter = oneshot::Sender<Result<(), StorageError>>;

/// Rows waiting for the next write, and who waits for them.
#[derive(Default)]
struct Pending {
    batch: Batch,
    waiters: Vec<Waiter>,
}

/// A batch being written: shared, so that a retry does not copy it.
struct Sealed {
    batch: Arc<Batch>,
    waiters: Vec<Waiter>,
}

/// One per process: buffers rows of every kind, writes them in batches, retries with
/// backoff. It knows no table: a `Batch` is written by the store.
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
            waiters: pending.waiters,
        };
        self.write(sealed, self.settings.min_backoff, ctx);
    }

    fn write(&mut self, mut batch: Sealed, backoff: Duration, ctx: &mut Context<Self>) {
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
                    for w in batch.waiters.drain(..) {
                        let _ = w.send(Ok(()));
                    }
                    act.in_flight -= 1;
                    act.in_flight_rows -= n;
                    metrics::gauge!(DB_QUEUE_ROWS).set(act.queued_rows() as f64);
                    act.maybe_flush(ctx);
                }
                Err(e) => {
                    metrics::counter!(DB_FLUSH_FAILURES_TOTAL, "error_kind" => e.kind())
                        .increment(1);
                    batch.waiters.retain(|w| !w.is_closed());
                    if batch.waiters.is_empty() {
                        // Nobody waits any more: those sessions closed without an ACK and
                        // their devices will send the records again.
                        tracing::warn!(
                            rows = n,
                            "database write failed ({e}); batch abandoned, unacknowledged"
                        );
                        act.in_flight -= 1;
                        act.in_flight_rows -= n;
                        act.maybe_flush(ctx);
                        return;
                    }
                    tracing::warn!(rows = n, retry_in = ?backoff, "database write failed: {e}");
                    let next = (backoff * 2).min(act.settings.max_backoff);
                    ctx.run_later(backoff, move |act, ctx| act.write(batch, next, ctx));
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
        self.pending.batch.append(batch);
        self.pending.waiters.push(tx);
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
