//! The OAuth1 nonce register with group commit. Every signed request spends a nonce, recorded
//! atomically in the database (oauth1.md §3, security.md O104: unique per consumer, token,
//! timestamp and nonce, `INSERT … ON CONFLICT DO NOTHING`, so two instances agree). One commit per
//! request would cap signed calls at the database's commit rate (about 1,600/s on PostgreSQL on the
//! benchmark machine), so concurrent requests share commits: each request queues its nonce and
//! waits; one writer task takes everything queued (up to [`MAX_BATCH`]), inserts it with one
//! multi-row statement, and answers each request from the rows the statement returned.
//!
//! The guarantees stay those of a lone insert: a nonce is fresh only if its row was inserted (the
//! unique constraint decides, across batches and instances), a duplicate inside one batch is
//! answered "used" without reaching the database, and nothing is answered before the commit. A
//! failed write fails closed (security.md I6): an outage fails every request of the batch; any
//! other failure (a row the database refuses) retries the batch's rows one by one, so only the
//! request whose row is refused fails.

use std::collections::{HashMap, HashSet};

use tokio::sync::{mpsc, oneshot};

use super::{Db, Result, StoreError, with_pool};

/// The most nonces one statement inserts (five bound values each, far below both databases'
/// limits).
pub(super) const MAX_BATCH: usize = 512;
/// Requests that may wait for the writer before senders wait too.
const QUEUE: usize = 8_192;

/// A nonce with its owner, as the unique constraint sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    consumer_key: String,
    token: Vec<u8>,
    timestamp: i64,
    nonce: String,
}

#[derive(Debug)]
struct Pending {
    key: Key,
    expires_at: i64,
    fresh: oneshot::Sender<Result<bool>>,
}

/// The queue into the writer task; cloned with the `Store`.
#[derive(Debug, Clone)]
pub(super) struct NonceLog {
    queue: mpsc::Sender<Pending>,
}

impl NonceLog {
    /// Starts the writer on `db`. It stops when the last `Store` clone is dropped.
    pub(super) fn start(db: Db, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        let (queue, pending) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(Writer { db, metrics }, pending));
        Self { queue }
    }

    /// Queues the nonce and waits for its batch to commit: `true` when it was fresh.
    pub(super) async fn record(&self, nonce: &super::Nonce<'_>) -> Result<bool> {
        let (fresh, answer) = oneshot::channel();
        let pending = Pending {
            key: Key {
                consumer_key: nonce.consumer_key.to_owned(),
                token: nonce.token.to_vec(),
                timestamp: nonce.timestamp,
                nonce: nonce.nonce.to_owned(),
            },
            expires_at: nonce.expires_at,
            fresh,
        };
        let stopped = || StoreError::Unavailable(sqlx::Error::PoolClosed);
        self.queue.send(pending).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Why a write failed, told to every request it concerns (`sqlx::Error` is not `Clone`).
#[derive(Debug, Clone)]
struct Failure {
    outage: bool,
    message: String,
}

impl Failure {
    fn to_error(&self) -> StoreError {
        let err = sqlx::Error::Protocol(format!("recording the nonce failed: {}", self.message));
        if self.outage {
            StoreError::Unavailable(err)
        } else {
            StoreError::Internal(err)
        }
    }
}

/// One nonce row to insert.
#[derive(Debug, Clone)]
struct Row {
    key: Key,
    expires_at: i64,
}

#[derive(Clone)]
struct Writer {
    db: Db,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// Runs for as long as a `Store` clone lives: no error and no panic of a write stops it (a write
/// runs in its own task, so even a panic fails only the requests of its batch).
async fn write_batches(writer: Writer, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        writer.metrics.nonce_batch.record(batch.len() as f64);
        // The first request of each key goes to the database; later ones in the batch lost already.
        let mut first: HashMap<&Key, usize> = HashMap::with_capacity(batch.len());
        let mut unique = Vec::with_capacity(batch.len());
        for (i, p) in batch.iter().enumerate() {
            first.entry(&p.key).or_insert_with(|| {
                unique.push(Row {
                    key: p.key.clone(),
                    expires_at: p.expires_at,
                });
                i
            });
        }
        let outcomes = writer.insert_isolated(unique).await;
        let mut answers: HashMap<&Key, &std::result::Result<bool, Failure>> =
            HashMap::with_capacity(outcomes.len());
        for (key, outcome) in &outcomes {
            answers.insert(key, outcome);
        }
        let winners: HashSet<usize> = first.into_values().collect();
        for (i, p) in batch.drain(..).enumerate() {
            let answer = match answers.get(&p.key) {
                Some(Ok(fresh)) => Ok(*fresh && winners.contains(&i)),
                Some(Err(failure)) => Err(failure.to_error()),
                None => Err(StoreError::Internal(sqlx::Error::Protocol(
                    "nonce missing from its batch".into(),
                ))),
            };
            // The request may have gone away (client disconnected); nothing to tell it then.
            let _ = p.fresh.send(answer);
        }
    }
}

impl Writer {
    /// Inserts the batch in one statement and commit. If that fails for a reason other than an
    /// outage (a row the database refuses), each row is retried alone, so one request's bad data
    /// fails only that request. Returns, per key, whether it was new.
    async fn insert_isolated(
        &self,
        rows: Vec<Row>,
    ) -> Vec<(Key, std::result::Result<bool, Failure>)> {
        let failure = match self.insert(rows.clone()).await {
            Ok(inserted) => {
                return rows
                    .into_iter()
                    .map(|r| {
                        let fresh = inserted.contains(&r.key);
                        (r.key, Ok(fresh))
                    })
                    .collect();
            }
            Err(failure) => failure,
        };
        tracing::warn!(
            error = %failure.message,
            outage = failure.outage,
            nonces = rows.len(),
            "recording a batch of nonces failed"
        );
        if failure.outage || rows.len() == 1 {
            return rows
                .into_iter()
                .map(|r| (r.key, Err(failure.clone())))
                .collect();
        }
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            let outcome = self
                .insert(vec![row.clone()])
                .await
                .map(|new| !new.is_empty());
            outcomes.push((row.key, outcome));
        }
        outcomes
    }

    /// Inserts `rows` in one statement (autocommit), in a task of its own so that a panic fails
    /// this write only; returns the keys that were new.
    async fn insert(&self, rows: Vec<Row>) -> std::result::Result<HashSet<Key>, Failure> {
        let writer = self.clone();
        let written = tokio::spawn(async move { writer.insert_rows(&rows).await }).await;
        match written {
            Ok(Ok(keys)) => Ok(keys),
            Ok(Err(e)) => Err(Failure {
                outage: super::is_outage(&e),
                message: e.to_string(),
            }),
            Err(panicked) => Err(Failure {
                outage: false,
                message: format!("the write panicked: {panicked}"),
            }),
        }
    }

    async fn insert_rows(&self, rows: &[Row]) -> std::result::Result<HashSet<Key>, sqlx::Error> {
        let rows: Vec<(String, Vec<u8>, i64, String)> = with_pool!(self, |pool| {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO oauth1_nonces (consumer_key, token, oauth_timestamp, nonce, expires_at) ",
            );
            insert.push_values(rows, |mut row, r| {
                row.push_bind(&r.key.consumer_key)
                    .push_bind(&r.key.token)
                    .push_bind(r.key.timestamp)
                    .push_bind(&r.key.nonce)
                    .push_bind(r.expires_at);
            });
            insert.push(
                " ON CONFLICT (consumer_key, token, oauth_timestamp, nonce) DO NOTHING \
             RETURNING consumer_key, token, oauth_timestamp, nonce",
            );
            insert.build_query_as().fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(consumer_key, token, timestamp, nonce)| Key {
                consumer_key,
                token,
                timestamp,
                nonce,
            })
            .collect())
    }
}
