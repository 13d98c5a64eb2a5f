//! What every node keeps loaded from the store and current (geofences, alert rules, the
//! route network): one polling task each, which hands a value on only when it changed.

use std::future::Future;
use std::time::Duration;

use urbanstream_schema::store::{DbError, Store};

/// Every `every`, runs `load` on the store; when the value differs from the last one
/// (`initial` at first), hands it to `apply`. Errors are logged and the old value stays.
pub fn spawn<T, L, F, A>(
    what: &'static str,
    every: Duration,
    store: Store,
    initial: T,
    load: L,
    mut apply: A,
) -> tokio::task::JoinHandle<()>
where
    T: PartialEq + 'static,
    L: Fn(Store) -> F + 'static,
    F: Future<Output = Result<T, DbError>> + 'static,
    A: FnMut(&T) + 'static,
{
    actix_rt::spawn(async move {
        let mut loaded = Some(initial);
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match load(store.clone()).await {
                Ok(v) if loaded.as_ref() != Some(&v) => {
                    apply(&v);
                    loaded = Some(v);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("{what} reload: {e}"),
            }
        }
    })
}
