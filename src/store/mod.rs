//! The storage interface: one `Store` over SQLite (the embedded default) or PostgreSQL (production,
//! several instances). Each query is written once, in the dialect both databases accept (`$1`
//! placeholders, `RETURNING`, `ON CONFLICT`), and run on whichever pool is configured; the two
//! migration folders differ only in column types, and in SQLite's `revocation_log` (0006), which
//! PostgreSQL does without (LISTEN/NOTIFY, see `cache`).

mod apps;
mod audit;
pub mod cache;
mod codes;
mod connections;
mod follows;
pub mod gc;
mod nonces;
mod oauth1;
mod posts;
mod seed;
mod sessions;
mod sites;
mod tokens;
mod two_step;
mod users;

pub use apps::{App, AppChanges, NewApp};
pub use audit::{AuditEvent, AuditFilter, AuditRecord};
pub use codes::{CodeToken, NewCode, RedeemRefusal, RedeemedCode};
pub use connections::{Connection, SiteMember};
pub use oauth1::{AccessToken, Approval, NewAccessToken, NewRequestToken, Nonce, RequestToken};
pub use posts::{NewPost, Post, PostPage};
pub use sessions::Session;
pub use sites::{Membership, Role, Site};
pub use tokens::{NewToken, TokenGrant};
pub use two_step::{AppPassword, TwoStep};
pub use users::{NewUser, User};

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

/// Runs `$body` inside one transaction (`$tx` is `&mut` the transaction's connection) and commits
/// when it returns `Ok`. Transactions in Latchkey start with a write, so SQLite takes its write lock
/// at the first statement and never fails a lock upgrade.
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {
        $crate::store::with_pool!($store, |pool| {
            let mut transaction = pool.begin().await?;
            let result = {
                let $tx = &mut *transaction;
                $body
            };
            if result.is_ok() {
                transaction.commit().await?;
            }
            result
        })
    };
}
pub(crate) use in_transaction;

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
    /// This instance's metrics (`crate::metrics`), shared with the application state.
    metrics: Arc<crate::metrics::Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the value names the constraint.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Constraint names shared by both migration folders, mapped to what a user can fix.
const UNIQUE_CONSTRAINTS: &[(&str, &str, &str)] = &[
    ("users_username_key", "users.username", "username"),
    ("users_email_key", "users.email", "email"),
    ("sites_url_key_key", "sites.url_key", "site URL"),
    ("apps_oauth1_key_key", "apps.oauth1_key", "consumer key"),
    ("access_tokens_digest_key", "access_tokens.digest", "token"),
    (
        "oauth1_request_tokens_digest_key",
        "oauth1_request_tokens.digest",
        "token",
    ),
    (
        "oauth1_access_tokens_digest_key",
        "oauth1_access_tokens.digest",
        "token",
    ),
];

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let Some(db) = err.as_database_error()
            && db.is_unique_violation()
        {
            // PostgreSQL names the constraint; SQLite names the column in its message.
            let message = db.message();
            let constraint = db.constraint();
            for (name, column, what) in UNIQUE_CONSTRAINTS {
                if constraint == Some(name) || message.contains(column) {
                    return StoreError::Conflict(what);
                }
            }
            return StoreError::Conflict("value");
        }
        if matches!(err, sqlx::Error::RowNotFound) {
            return StoreError::NotFound;
        }
        StoreError::Unavailable(err)
    }
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

/// An arbitrary, fixed key for `pg_advisory_lock`, so only one instance migrates at a time.
const MIGRATION_LOCK: i64 = 0x6c61_7463_686b_6579; // "latchkey"

impl Store {
    /// Opens the pool without touching the schema. SQLite files (and their folder) are created if
    /// missing; an existing file that cannot be opened is an error, never a fresh database elsewhere.
    pub async fn connect(options: &DbOptions) -> Result<Self> {
        let db = if options.url.starts_with("sqlite:") {
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
            let pool = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            Db::Sqlite(pool)
        } else {
            let connect = PgConnectOptions::from_str(&options.url)
                .map_err(StoreError::Unavailable)?
                .options([("statement_timeout", "5s"), ("lock_timeout", "5s")]);
            // Lazy: the server starts (live, not ready) even while PostgreSQL is down (fault F01).
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_lazy_with(connect);
            Db::Postgres(pool)
        };
        let metrics = Arc::new(crate::metrics::Metrics::new());
        Ok(Self {
            nonces: nonces::NonceLog::start(db.clone(), Arc::clone(&metrics)),
            metrics,
            db,
            cache: Arc::default(),
        })
    }

    /// Applies pending migrations. On PostgreSQL an advisory lock serialises concurrent instances.
    pub async fn migrate(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
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
                result?
            }
        }
        Ok(())
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
        with_pool!(self, |pool| pool.close().await)
    }
}
