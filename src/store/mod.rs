//! The storage interface: one `Store` over SQLite (the embedded default) or PostgreSQL (production,
//! several instances). Each query is written once, in the dialect both databases accept (`$1`
//! placeholders, `RETURNING`, `ON CONFLICT`), and run on whichever pool is configured; the two
//! migration folders differ only in column types, and in SQLite's `revocation_log` (0006), which
//! PostgreSQL does without (LISTEN/NOTIFY, see `notify`).
//!
//! Reads are methods on [`Store`]; writes are methods on a [`Tx`], the unit of work that
//! [`Store::begin`] opens and [`Tx::commit`] ends (see `tx`).

mod apps;
mod audit;
pub mod cache;
mod codes;
mod connections;
mod error;
mod follows;
pub mod gc;
mod key_check;
mod nonces;
pub mod notify;
mod oauth1;
mod oauth21;
mod posts;
mod refresh_tokens;
mod registrations;
mod resources;
mod seed;
mod sessions;
mod signing_keys;
mod sites;
mod tokens;
mod two_step;
mod tx;
mod users;

pub use apps::{App, AppChanges, AppIcon, AppInput, NewApp};
pub use audit::{AuditEvent, AuditFilter, AuditRecord};
pub use codes::{CodeToken, NewCode, RedeemRefusal, RedeemedCode};
pub use connections::{Connection, SiteMember};
use error::is_outage;
pub use error::{Reported, StoreError};
pub use oauth1::{AccessToken, Approval, NewAccessToken, NewRequestToken, Nonce, RequestToken};
pub use oauth21::{Code21, EarlierGrant, Issue21, Issued21, NewClientToken, NewCode21};
pub use posts::{NewPost, Post, PostPage, PostStatus, PostUpdate};
pub use refresh_tokens::{RefreshGrant, RefreshRefusal};
pub use registrations::{ClientApp, ClientRegistration, NewRegistration};
pub use seed::OneTime;
pub use sessions::Session;
pub use signing_keys::{NewSigningKey, SigningKey};
pub use sites::{Membership, Role, Site};
pub use tokens::{NewToken, TokenGrant};
pub use two_step::{AppPassword, TwoStep};
pub use tx::Tx;
pub(crate) use tx::with_tx;
pub use users::{NewUser, User, UserSummary};

use std::sync::Arc;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// Runs `$body` with `$pool` bound to whichever pool the store holds. The body is the same text for
/// both databases; type inference makes it compile once per backend.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// [`with_pool!`] for a write outside a unit of work: on SQLite, the writer connection (see
/// [`Store`]'s `writer`), so writes queue in the process instead of in SQLite's busy handler.
macro_rules! with_writer {
    ($store:expr, |$pool:ident| $body:expr) => {
        match (&$store.db, &$store.writer) {
            ($crate::store::Db::Postgres($pool), _) => $body,
            (_, Some($pool)) => $body,
            ($crate::store::Db::Sqlite($pool), None) => $body,
        }
    };
}
pub(crate) use with_writer;

/// Makes a closed set of values (an enum with `as_str` and `FromStr`) a TEXT column on both
/// databases: bound and decoded directly, spelt once. sqlx's `#[derive(sqlx::Type)]` would do for
/// a store type, but on PostgreSQL it names the type (`type_name = "text"`), which costs a
/// `regtype` lookup on each new connection, and it cannot be put on a `domain` type without
/// bringing sqlx into `domain`.
macro_rules! text_column {
    ($ty:ty) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $ty
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $ty
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                self.as_str().encode_by_ref(buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> std::result::Result<Self, sqlx::error::BoxDynError> {
                Ok(<&str as sqlx::Decode<'r, DB>>::decode(value)?.parse()?)
            }
        }
    };
}
pub(crate) use text_column;

#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The storage handle: cheap to clone, shared by every request.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    /// This instance's validation cache (see `cache`).
    cache: Arc<cache::ValidationCache>,
    /// The OAuth1 nonce register's queue (see `nonces`).
    nonces: nonces::NonceLog,
    /// SQLite: readiness's own connection (see [`Store::ready`]).
    probe: Option<SqlitePool>,
    /// SQLite: the one connection every write runs on (units of work, the nonce batches, the
    /// purges). SQLite takes one writer at a time; with one connection the others wait in the
    /// pool's fair queue, not in SQLite's busy handler, whose sleeps (up to 100 ms each) were the
    /// tail of code exchange under load (issue 17). Reads use `db`'s other connections (WAL).
    writer: Option<SqlitePool>,
    /// This instance's metrics (`crate::metrics`), shared with the application state.
    metrics: Arc<crate::metrics::Metrics>,
    /// SQLite: [`error::DISK_FULLS`] as of this store's last truncating checkpoint.
    full_disks_handled: Arc<std::sync::atomic::AtomicU64>,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How to reach the database; validated by `config`.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// SQLite: fsync the WAL at every commit (`synchronous=FULL`) rather than at checkpoints
    /// (`NORMAL`, the default). In WAL mode both keep the file consistent and lose nothing when the
    /// process dies; `NORMAL` may lose the last commits on a power loss or kernel crash, and makes
    /// each write about 1 ms cheaper (the benchmark's `code-exchange` and `oauth1-call`).
    pub sqlite_full_sync: bool,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long `/health/ready` may take to decide (security.md F03, F08: within 100 ms).
pub const READY_BUDGET: Duration = Duration::from_millis(90);
/// How long readiness waits for SQLite's write lock: longer than a healthy write holds it.
const PROBE_BUSY_TIMEOUT: Duration = Duration::from_millis(50);

/// The pool's release check: a connection still inside a transaction once its rollback has run
/// (the rollback failed, or SQLite had already rolled back after a full disk and sqlx lost count)
/// would run the next request's statements inside that transaction, never committed, holding the
/// write lock. It is closed instead of going back to the pool.
async fn discard_unsettled<C: sqlx::Connection>(
    conn: &mut C,
) -> std::result::Result<bool, sqlx::Error> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // A dropped transaction's rollback may still be queued (SQLite runs it on the connection's
    // worker): the ping runs after it.
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("a connection left inside a transaction was closed");
        return Ok(false);
    }
    Ok(true)
}

/// Whether `err` says another connection holds the SQLite database locked (or held it past the
/// acquire timeout), which passes, unlike an unreadable file, which does not.
fn is_locked(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

/// A migration that failed because the database is unreachable or busy is an outage (retried at
/// start-up); any other failure is fatal.
fn outage_or_migration(err: sqlx::migrate::MigrateError) -> StoreError {
    match err {
        sqlx::migrate::MigrateError::Execute(e)
        | sqlx::migrate::MigrateError::ExecuteMigration(e, _)
            if is_outage(&e) =>
        {
            StoreError::Unavailable(e)
        }
        other => StoreError::Migrate(other),
    }
}

/// SQLite: the log pages after which a commit on the writer checkpoints (SQLite's default is
/// 1,000): the log stays under about 50 MB (measured: 47 MB under the benchmark's writes), and the
/// writer stalls a tenth as often.
const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// An arbitrary, fixed key for `pg_advisory_lock`, so only one instance migrates at a time.
const MIGRATION_LOCK: i64 = 0x6c61_7463_686b_6579; // "latchkey"

impl Store {
    /// Opens the pool without touching the schema. SQLite files (and their folder) are created if
    /// missing; an existing file that cannot be opened is an error, never a fresh database elsewhere.
    pub async fn connect(options: &DbOptions) -> Result<Self> {
        let (db, probe) = if options.url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(&options.url)
                .map_err(StoreError::Unavailable)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(if options.sqlite_full_sync {
                    SqliteSynchronous::Full
                } else {
                    SqliteSynchronous::Normal
                })
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            if let Some(dir) = connect.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
            }
            // A file-backed connection cannot go stale: no ping before each use.
            let pool_options = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .after_release(|conn, _| Box::pin(discard_unsettled(conn)));
            // The writer checkpoints itself only every `WRITER_CHECKPOINT_PAGES` (see
            // `Store::checkpoint`, which does the copying meanwhile).
            let writer = pool_options.clone().max_connections(1).connect_lazy_with(
                connect
                    .clone()
                    .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES.to_string()),
            );
            // Readiness has its own connection, which waits at most a moment for the write lock.
            let probe = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(READY_BUDGET)
                .connect_lazy_with(connect.clone().busy_timeout(PROBE_BUSY_TIMEOUT));
            // Fault F01: a file another process holds locked is an outage (retried by `migrate`),
            // anything else that stops it opening (unreadable, not a database) is fatal.
            let pool = match pool_options.clone().connect_with(connect.clone()).await {
                Ok(pool) => pool,
                Err(e) if is_locked(&e) => {
                    tracing::warn!(error = %e, "SQLite database busy at start; retrying");
                    pool_options.connect_lazy_with(connect)
                }
                Err(e) => return Err(StoreError::Unavailable(e)),
            };
            (Db::Sqlite(pool), Some((probe, writer)))
        } else {
            let connect = PgConnectOptions::from_str(&options.url)
                .map_err(StoreError::Unavailable)?
                .options([("statement_timeout", "5s"), ("lock_timeout", "5s")]);
            // Lazy: the server starts (live, not ready) even while PostgreSQL is down (fault F01).
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .after_release(|conn, _| Box::pin(discard_unsettled(conn)))
                .connect_lazy_with(connect);
            (Db::Postgres(pool), None)
        };
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let (probe, writer) = probe.unzip();
        let write_db = writer.clone().map_or_else(|| db.clone(), Db::Sqlite);
        Ok(Self {
            nonces: nonces::NonceLog::start(write_db, Arc::clone(&metrics)),
            metrics,
            db,
            probe,
            writer,
            cache: Arc::default(),
            full_disks_handled: Arc::default(),
        })
    }

    /// Applies pending migrations. On PostgreSQL an advisory lock serialises concurrent instances.
    pub async fn migrate(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite(pool) => {
                // Connect first: a database locked by another process is an outage (fault F01).
                let mut conn = pool.acquire().await?;
                // SQLite changes a table's constraints only by rebuilding it (0012 drops a NOT
                // NULL of `apps`), and dropping the old table would cascade into every table that
                // references it: foreign keys are off while migrating, as
                // https://sqlite.org/lang_altertable.html §7 prescribes (the pragma is a no-op
                // inside the transaction each migration runs in, so it is set around them), then
                // checked before they are on again.
                sqlx::query("PRAGMA foreign_keys = OFF")
                    .execute(&mut *conn)
                    .await?;
                let migrated = SQLITE_MIGRATIONS.run(&mut *conn).await;
                let dangling: std::result::Result<Vec<(String,)>, sqlx::Error> =
                    sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
                        .fetch_all(&mut *conn)
                        .await;
                let restored = sqlx::query("PRAGMA foreign_keys = ON")
                    .execute(&mut *conn)
                    .await;
                if restored.is_err() {
                    // Never hand the pool a connection without foreign keys.
                    let _ = conn.detach();
                }
                migrated.map_err(outage_or_migration)?;
                restored?;
                if let Some((table,)) = dangling?.into_iter().next() {
                    return Err(StoreError::Internal(sqlx::Error::Protocol(format!(
                        "after migrating, rows of {table} reference missing rows"
                    ))));
                }
            }
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(MIGRATION_LOCK)
                    .execute(&mut *conn)
                    .await?;
                let result = POSTGRES_MIGRATIONS.run(&mut *conn).await;
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(MIGRATION_LOCK)
                    .execute(&mut *conn)
                    .await?;
                result.map_err(outage_or_migration)?
            }
        }
        Ok(())
    }

    /// True when the store can serve now, answered within [`READY_BUDGET`] (faults F03, F08): a
    /// pooled connection is free at once (not a full pool), and a write could start (SQLite: the
    /// write lock is free within a moment, taken on readiness's own connection; PostgreSQL: no
    /// table lock stops inserts into the tables the OAuth requests write).
    pub async fn ready(&self) -> bool {
        // The probe runs in a task of its own: past the budget the answer is 503, but a connection
        // being opened is still opened (and pooled), so the next probe finds it.
        let store = self.clone();
        let probe = tokio::spawn(async move { store.probe().await });
        matches!(
            tokio::time::timeout(READY_BUDGET, probe).await,
            Ok(Ok(true))
        )
    }

    async fn probe(&self) -> bool {
        let probed: std::result::Result<(), sqlx::Error> = async {
            match (&self.db, &self.probe) {
                (Db::Sqlite(pool), Some(probe)) => {
                    drop(pool.acquire().await?);
                    let mut conn = probe.acquire().await?;
                    let write = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
                    write.rollback().await
                }
                (Db::Sqlite(pool), None) => pool.acquire().await.map(drop),
                (Db::Postgres(pool), _) => {
                    // One round trip, in an implicit transaction that ends with the statement:
                    // NOWAIT fails at once if a table lock (DDL, an explicit LOCK) stops inserts.
                    sqlx::raw_sql(
                        "LOCK TABLE oauth1_nonces, access_tokens, grants, auth_codes \
                         IN ROW EXCLUSIVE MODE NOWAIT; SELECT 1",
                    )
                    .execute(pool)
                    .await
                    .map(drop)
                }
            }
        }
        .await;
        if let Err(e) = &probed {
            tracing::debug!(error = %e, "not ready");
        }
        probed.is_ok()
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        let result: std::result::Result<i32, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT 1").fetch_one(pool).await
        });
        result.is_ok()
    }

    /// The pool's open connections, idle connections and configured size, for the metrics.
    pub fn pool_status(&self) -> (u32, usize, u32) {
        with_pool!(self, |pool| (
            pool.size(),
            pool.num_idle(),
            pool.options().get_max_connections()
        ))
    }

    /// How long acquiring a connection takes right now (`None` when it fails).
    pub async fn probe_acquire(&self) -> Option<Duration> {
        let started = std::time::Instant::now();
        with_pool!(self, |pool| pool.acquire().await.ok().map(drop))?;
        Some(started.elapsed())
    }

    /// SQLite: copies committed pages from the write-ahead log back into the database file, as far
    /// as readers allow (`PRAGMA wal_checkpoint(PASSIVE)`), on a reading connection, beside the
    /// writer. The writer still checkpoints itself every [`WRITER_CHECKPOINT_PAGES`] pages of log
    /// (SQLite's automatic checkpoint): that is what lets the log restart from its beginning, so
    /// it stays bounded under a steady stream of writes, which a checkpoint beside the writer never
    /// catches up with. But that checkpoint, run inside a commit while every queued write waits,
    /// now finds most pages already copied. After a query met a full disk
    /// ([`error::DISK_FULLS`]), the checkpoint truncates the log instead (`TRUNCATE`, which waits
    /// for the writer), giving its space back for the writes that follow; until one succeeds, each
    /// checkpoint tries again. PostgreSQL: nothing to do.
    pub async fn checkpoint(&self) -> Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        if let Db::Sqlite(pool) = &self.db {
            let full_disks = error::DISK_FULLS.load(Relaxed);
            let truncate = full_disks != self.full_disks_handled.load(Relaxed);
            let sql = if truncate {
                "PRAGMA wal_checkpoint(TRUNCATE)"
            } else {
                "PRAGMA wal_checkpoint(PASSIVE)"
            };
            // A checkpoint that cannot finish for want of space fails with SQLITE_FULL; one that
            // readers or the writer hold up says so in its first column.
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as(sql).fetch_one(pool).await?;
            if truncate && busy == 0 {
                self.full_disks_handled.store(full_disks, Relaxed);
            }
        }
        Ok(())
    }

    /// This instance's metrics.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// The raw pool, for tests that assert side effects with their own SQL.
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn close(&self) {
        if let Some(probe) = &self.probe {
            probe.close().await;
        }
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        with_pool!(self, |pool| pool.close().await)
    }
}
