//! Storage failures: `StoreError` tells a conflict or an absent row (the caller decides) from an
//! outage (503, retry later) and a bug (500), and [`StoreError::report`] is the one place a failure
//! a request cannot handle is logged.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the value names the constraint.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    /// An outage: the database cannot be reached or cannot write now (pool timeout, I/O, a full
    /// disk, a lock held too long). Answered 503 with `Retry-After`; retrying later helps.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A bug: a query the database refused for a reason retrying cannot fix (an SQL mistake, a
    /// value that does not decode, data a constraint refuses). Answered 500 `server_error`.
    #[error("storage bug: {0}")]
    Internal(#[source] sqlx::Error),
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
    ("app_resources_uri_key", "app_resources.uri", "resource URI"),
    (
        "signing_keys_one_current",
        "signing_keys.is_current",
        "current signing key",
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
        let err = StoreError::classify(err);
        if cfg!(debug_assertions)
            && let StoreError::Internal(e) = &err
        {
            // A bug, not an outage: loud in tests and debug builds (logged, then a panic the
            // request's panic layer answers), a reported 500 in production.
            err.log();
            panic!("storage bug: {e}");
        }
        err
    }
}

/// How a request answers a storage failure it cannot handle, once [`StoreError::report`] logged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// An outage: 503 with `Retry-After`.
    Unavailable,
    /// A bug (or a conflict or absence nothing handled): 500 `server_error`.
    Internal,
}

impl Reported {
    /// A dialect's answer: `unavailable` for an outage, `internal` for the rest. Each dialect's
    /// `From<StoreError>` is `err.report().answer(…)`.
    pub fn answer<T>(self, unavailable: impl FnOnce() -> T, internal: impl FnOnce() -> T) -> T {
        match self {
            Reported::Unavailable => unavailable(),
            Reported::Internal => internal(),
        }
    }
}

impl StoreError {
    /// True for an outage (503 with `Retry-After`), false for everything else.
    pub fn is_outage(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// Logs a failure the request gives up on, and says how to answer it. Every dialect's error
    /// (`From<StoreError>`) and every page that swallows a failure report it here, so each failure
    /// is logged once, in the request's span, with the error's own text (the database's message;
    /// queries bind their values, so no credential is spliced into it).
    pub fn report(self) -> Reported {
        self.log();
        if self.is_outage() {
            Reported::Unavailable
        } else {
            Reported::Internal
        }
    }

    fn log(&self) {
        tracing::error!(error = %self, "storage failure");
    }

    /// `Unavailable` when `err` is an outage, `Internal` otherwise; no log, no panic (the nonce
    /// writer decides for itself what a failed batch means).
    fn classify(err: sqlx::Error) -> StoreError {
        if is_outage(&err) {
            StoreError::Unavailable(err)
        } else {
            StoreError::Internal(err)
        }
    }
}

const SQLITE_FULL: i32 = 13;

/// How many times an SQLite query met a full disk in this process (counted by [`is_outage`], which
/// sees every failed query). `Store::checkpoint` truncates the write-ahead log when the count has
/// moved since its last truncation: a log keeps its size when its pages are copied back, so after
/// a full disk the space it held is only given back to the file system, for the writes that
/// follow, by truncating it. A count rather than a flag, so that each store of the process (the
/// tests run many) sees it; truncating the log of a store that did not fail costs one checkpoint.
pub(super) static DISK_FULLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Whether `err` says the database is unreachable, overloaded or cannot write for now, rather than
/// that the query or its data is wrong.
pub(super) fn is_outage(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Primary result codes (the low byte of the extended one): BUSY, LOCKED, NOMEM,
                // READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB.
                let primary = code.parse::<i32>().map(|c| c & 0xff);
                if primary == Ok(SQLITE_FULL) {
                    DISK_FULLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                primary.is_ok_and(|c| matches!(c, 5 | 6 | 7 | 8 | 10 | 11 | 13 | 14 | 15 | 26))
            } else {
                // PostgreSQL SQLSTATEs: connection exception, insufficient resources, operator
                // intervention (shutdown, statement_timeout), system error, a refused login or a
                // database that does not exist (operations, not code), serialization failure and
                // deadlock, lock_timeout, a read-only standby, idle-in-transaction timeout.
                let code = code.as_ref();
                ["08", "28", "3D", "53", "57", "58"]
                    .iter()
                    .any(|class| code.starts_with(class))
                    || matches!(code, "40001" | "40P01" | "55P03" | "25006" | "25P03")
            }
        }
        _ => false,
    }
}
