//! The unit of work: [`Store::begin`] opens a [`Tx`], the store's write methods run on it, and
//! [`Tx::commit`] ends it. The transaction starts at its first statement, on a pooled connection
//! of its own: until then a `Tx` holds nothing, so a caller may begin, read through the store,
//! hash a password, and only then write. Commit is the one place where what the transaction
//! announced ([`Tx::announce`]: a revocation, a stale profile or consumer) reaches this instance's
//! validation cache, and where its audit events are counted and logged; other instances hear the
//! announcement from the database (see `notify`). A `Tx` dropped without a commit (an error, an
//! early return, a cancelled request) rolls back and changes nothing.
//!
//! A failed COMMIT leaves the connection in an unknown state (SQLite may or may not have rolled
//! back after `SQLITE_FULL` or `SQLITE_IOERR`, and sqlx can lose count of the transaction), so the
//! connection is closed, never reused; since the change may have landed, what it announced is
//! still dropped from the cache (dropping is always safe). A dropped transaction's rollback runs
//! before the connection is back in the pool, where `discard_unsettled` closes it if that rollback
//! failed too. Transactions in Latchkey start with a write, so SQLite takes its write lock at the
//! first statement and never fails a lock upgrade.

use sqlx::pool::PoolConnection;
use sqlx::{Database, Postgres, Sqlite, TransactionManager};

use super::notify::{ANNOUNCE_POSTGRES, ANNOUNCE_SQLITE, CHANNEL, Stale};
use super::{Db, Result, Store};

/// The connection a transaction runs on, whichever the backend.
#[derive(Debug)]
pub(crate) enum TxConn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// Runs `$body` with `$conn` bound to `&mut` the transaction's connection (as [`with_pool!`] does
/// for the pool): the same SQL text for both databases.
///
/// [`with_pool!`]: super::with_pool
macro_rules! with_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx.conn().await? {
            $crate::store::tx::TxConn::Sqlite($conn) => {
                let $conn = &mut **$conn;
                $body
            }
            $crate::store::tx::TxConn::Postgres($conn) => {
                let $conn = &mut **$conn;
                $body
            }
        }
    };
}
pub(crate) use with_tx;

/// What runs once the transaction has committed (an audit event's count and log line).
type OnCommit = Box<dyn FnOnce(&Store) + Send>;

/// An open transaction: write methods run on it, [`Tx::commit`] ends it, dropping it rolls back.
pub struct Tx<'s> {
    store: &'s Store,
    /// `None` until the first statement, and again once committed.
    conn: Option<TxConn>,
    /// What this transaction announced, applied to this instance's cache at commit.
    announced: Vec<Stale>,
    on_commit: Vec<OnCommit>,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("conn", &self.conn)
            .field("announced", &self.announced)
            .finish_non_exhaustive()
    }
}

async fn begin_on<DB: Database>(pool: &sqlx::Pool<DB>) -> Result<PoolConnection<DB>> {
    let mut conn = pool.acquire().await?;
    DB::TransactionManager::begin(&mut conn, None).await?;
    Ok(conn)
}

/// Commits; on failure the connection is closed (its state is unknown) and the error returned.
async fn commit_on<DB: Database>(mut conn: PoolConnection<DB>) -> Result<()> {
    match DB::TransactionManager::commit(&mut conn).await {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "commit failed; closing the connection");
            let _ = conn.close().await;
            Err(e.into())
        }
    }
}

impl Store {
    /// A unit of work on this store; its transaction starts at its first statement.
    pub fn begin(&self) -> Tx<'_> {
        Tx {
            store: self,
            conn: None,
            announced: Vec::new(),
            on_commit: Vec::new(),
        }
    }
}

impl<'s> Tx<'s> {
    /// The store this transaction writes to.
    pub fn store(&self) -> &'s Store {
        self.store
    }

    /// The transaction's connection (for [`with_tx!`]), acquired and begun at the first call.
    pub(crate) async fn conn(&mut self) -> Result<&mut TxConn> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => match &self.store.db {
                // SQLite: the writer connection (see `Store`), whichever pool reads use.
                Db::Sqlite(pool) => {
                    TxConn::Sqlite(begin_on(self.store.writer.as_ref().unwrap_or(pool)).await?)
                }
                Db::Postgres(pool) => TxConn::Postgres(begin_on(pool).await?),
            },
        };
        Ok(self.conn.insert(conn))
    }

    /// Commits, then drops from this instance's cache what the transaction announced and runs
    /// what waited for the commit. A failed commit closes the connection (see the module docs).
    pub async fn commit(mut self) -> Result<()> {
        let committed = match self.conn.take() {
            Some(TxConn::Sqlite(conn)) => commit_on(conn).await,
            Some(TxConn::Postgres(conn)) => commit_on(conn).await,
            // Nothing was written.
            None => Ok(()),
        };
        // Even after a failed commit: the change may have landed, and dropping is always safe.
        for stale in std::mem::take(&mut self.announced) {
            self.store.invalidate(stale);
        }
        committed?;
        for then in std::mem::take(&mut self.on_commit) {
            then(self.store);
        }
        Ok(())
    }

    /// Inside this transaction, announces `stale` to the other instances and processes
    /// (PostgreSQL delivers a notification at commit and drops it on rollback; SQLite appends it
    /// to `revocation_log`, visible at commit), and remembers it for this instance's cache, which
    /// [`Tx::commit`] updates.
    pub(crate) async fn announce(&mut self, stale: impl Into<Stale>) -> Result<()> {
        let stale = stale.into();
        match self.conn().await? {
            TxConn::Postgres(conn) => {
                sqlx::query(ANNOUNCE_POSTGRES)
                    .bind(CHANNEL)
                    .bind(stale.payload())
                    .execute(&mut **conn)
                    .await?;
            }
            TxConn::Sqlite(conn) => {
                sqlx::query(ANNOUNCE_SQLITE)
                    .bind(stale.payload())
                    .execute(&mut **conn)
                    .await?;
            }
        }
        self.announced.push(stale);
        Ok(())
    }

    /// Runs `then` once this transaction has committed (never after a rollback).
    pub(crate) fn on_commit(&mut self, then: impl FnOnce(&Store) + Send + 'static) {
        self.on_commit.push(Box::new(then));
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        // Not committed: roll back before the connection goes back to the pool.
        match self.conn.take() {
            Some(TxConn::Sqlite(mut conn)) => {
                <Sqlite as Database>::TransactionManager::start_rollback(&mut conn)
            }
            Some(TxConn::Postgres(mut conn)) => {
                <Postgres as Database>::TransactionManager::start_rollback(&mut conn)
            }
            None => {}
        }
    }
}
