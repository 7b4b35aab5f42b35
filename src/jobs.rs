//! Background jobs of a serving instance (STYLE.md, "background jobs … stop cleanly"): the
//! revocation watcher that keeps the validation cache honest (`store::notify`), the periodic
//! garbage collection (`store::gc`, and self-registered clients nobody connected), SQLite's
//! checkpoints (`Store::checkpoint`, beside the writer) and the metrics' upkeep (without it, a
//! server nobody scrapes would keep every latency sample). All stop when `stop` turns true.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::store::gc;

/// How often the collector runs.
pub(crate) const GC_INTERVAL: Duration = Duration::from_secs(300);
/// The pause between two batches of one collection.
pub(crate) const GC_PAUSE: Duration = Duration::from_millis(20);

/// How often the request-latency samples are folded into their histograms (`Metrics::upkeep`).
pub(crate) const METRICS_UPKEEP: Duration = Duration::from_secs(5);
/// How often SQLite's write-ahead log is copied back into the database (`Store::checkpoint`).
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Starts every job; await the handles after sending `true` on the sender of `stop`.
pub(crate) fn spawn(state: &AppState, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let watcher = {
        let store = state.store.clone();
        let stop = stop.clone();
        tokio::spawn(async move { store.watch_revocations(stop).await })
    };
    let upkeep = {
        let state = state.clone();
        every(METRICS_UPKEEP, stop.clone(), move || {
            state.store.metrics().upkeep();
            async {}
        })
    };
    let checkpointer = {
        let store = state.store.clone();
        every(CHECKPOINT_EVERY, stop.clone(), move || {
            let store = store.clone();
            async move {
                if let Err(e) = store.checkpoint().await {
                    tracing::warn!(error = %e, "checkpointing the SQLite log failed; will retry");
                }
            }
        })
    };
    let collector = {
        let state = state.clone();
        let mut stop = stop;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(GC_INTERVAL) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                let collection = state
                    .store
                    .collect_garbage(state.now(), gc::BATCH, GC_PAUSE);
                let result = tokio::select! {
                    result = collection => result,
                    _ = stop.wait_for(|s| *s) => break,
                };
                if let Some(keep) = state.settings.audit_retention {
                    let expiry = state
                        .store
                        .expire_audit(state.now() - keep, gc::BATCH, GC_PAUSE);
                    match expiry.await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(audit_events = n, "audit events past retention purged")
                        }
                        Err(e) => tracing::warn!(error = %e, "audit retention failed; will retry"),
                    }
                }
                // Self-registered clients nobody connected (oauth21.md §5).
                let cutoff = state.now() - state.settings.oauth21.unclaimed_client_ttl_secs;
                match state.store.purge_unclaimed_clients(cutoff, gc::BATCH).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(clients = n, "unclaimed registered clients deleted"),
                    Err(e) => {
                        tracing::warn!(error = %e, "deleting unclaimed clients failed; will retry")
                    }
                }
                match result {
                    Ok(purged) => tracing::info!(
                        codes = purged.codes,
                        tokens = purged.tokens,
                        "garbage collected"
                    ),
                    Err(e) => tracing::warn!(error = %e, "garbage collection failed; will retry"),
                }
            }
        })
    };
    vec![watcher, upkeep, checkpointer, collector]
}

/// Runs `work` every `period` until `stop` turns true.
fn every<F, W>(period: Duration, mut stop: watch::Receiver<bool>, mut work: W) -> JoinHandle<()>
where
    W: FnMut() -> F + Send + 'static,
    F: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            work().await;
        }
    })
}
