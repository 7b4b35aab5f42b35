//! Heavy blocking work (argon2id password hashing) on a small pool of dedicated threads, one per
//! core, so jobs queue instead of piling up. Each argon2id run takes 19 MiB (domain::password):
//! on tokio's blocking pool the benchmark's 64 concurrent logins held over 1.7 GB of RSS, and
//! even with a concurrency bound, each of the many short-lived pool threads kept its own malloc
//! arena with a freed 19 MiB block in it (~400 MB). A fixed set of threads keeps a fixed set of
//! arenas. Logins are meant to be slow; the rest of the server is not.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Sender, channel};
use std::sync::{LazyLock, Mutex};

type Job = Box<dyn FnOnce() + Send>;

static POOL: LazyLock<Mutex<Sender<Job>>> = LazyLock::new(|| {
    let (tx, rx) = channel::<Job>();
    let rx = std::sync::Arc::new(Mutex::new(rx));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for i in 0..cores {
        let rx = std::sync::Arc::clone(&rx);
        let spawned = std::thread::Builder::new()
            .name(format!("latchkey-hash-{i}"))
            .spawn(move || {
                loop {
                    let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    // A panicking job loses its answer (the caller sees `Canceled`), not the thread.
                    let _ = catch_unwind(AssertUnwindSafe(job));
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a hashing thread");
        }
    }
    Mutex::new(tx)
});

/// The job did not finish (it panicked, or no hashing thread could be started).
#[derive(Debug, thiserror::Error)]
#[error("the blocking job did not complete")]
pub(crate) struct Canceled;

/// Runs `job` on the hashing threads and waits for its result without blocking the runtime.
pub(crate) async fn run<T, F>(job: F) -> Result<T, Canceled>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(job());
    });
    POOL.lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .map_err(|_| Canceled)?;
    rx.await.map_err(|_| Canceled)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn jobs_run_and_a_panic_only_cancels_its_own() {
        assert_eq!(super::run(|| 2 + 2).await.unwrap(), 4);
        let panicked = super::run(|| -> i32 { panic!("boom") }).await;
        assert!(panicked.is_err());
        assert_eq!(super::run(|| 5).await.unwrap(), 5);
    }
}
