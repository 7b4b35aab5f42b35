//! Announcements: what a committed write makes stale ([`Stale`]: tokens by [`Revocation`], a
//! user's profile, an app's OAuth1 consumer), how it travels between instances and processes, and
//! the watcher that applies what others announced to this instance's validation cache (`cache`).
//!
//! A transaction announces with `Tx::announce` (see `tx`): on PostgreSQL a `pg_notify` on
//! [`CHANNEL`], delivered at commit and dropped on rollback; on SQLite (one server process, but
//! the CLI may write beside it) a row in `revocation_log`, written in the same transaction, which
//! the watcher reads every 50 ms. [`Store::watch_revocations`] keeps the cache live only while it
//! is sure it hears everything: when it is not connected, or reconnects, the cache is bypassed and
//! cleared, since notifications may have been missed.

use std::time::Duration;

use tokio::sync::watch;

use super::{Db, Result, Store};

/// The PostgreSQL channel revocations are announced on.
pub const CHANNEL: &str = "latchkey_revocations";
/// The announcement on PostgreSQL: `$1` the channel, `$2` the payload.
pub(super) const ANNOUNCE_POSTGRES: &str = "SELECT pg_notify($1, $2)";
/// The announcement on SQLite: `$1` the payload.
pub(super) const ANNOUNCE_SQLITE: &str =
    "INSERT INTO revocation_log (payload, created_at) VALUES ($1, unixepoch())";
/// How often the SQLite watcher looks for writes from other processes.
const SQLITE_POLL: Duration = Duration::from_millis(50);
/// The pause before the PostgreSQL watcher reconnects after a failure.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// Which tokens a revocation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Token(i64),
    UserApp {
        user_id: i64,
        app_id: i64,
    },
    App(i64),
    /// Everything: a user's deletion takes the tokens of the apps they own with it.
    All,
}

impl Revocation {
    /// The notification payload: `t:7`, `ua:3:9`, `a:9` or `*`.
    pub fn payload(self) -> String {
        match self {
            Revocation::Token(id) => format!("t:{id}"),
            Revocation::UserApp { user_id, app_id } => format!("ua:{user_id}:{app_id}"),
            Revocation::App(id) => format!("a:{id}"),
            Revocation::All => "*".to_owned(),
        }
    }

    /// What the revocation covered, as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Revocation::Token(_) => "token",
            Revocation::UserApp { .. } => "user_app",
            Revocation::App(_) => "app",
            Revocation::All => "all",
        }
    }

    /// Reads a payload; anything unreadable means "everything", which is always safe.
    pub fn parse(payload: &str) -> Self {
        let parts: Vec<&str> = payload.split(':').collect();
        let id = |s: &str| s.parse::<i64>().ok();
        let parsed = match parts.as_slice() {
            ["t", token] => id(token).map(Revocation::Token),
            ["a", app] => id(app).map(Revocation::App),
            ["ua", user, app] => id(user)
                .zip(id(app))
                .map(|(user_id, app_id)| Revocation::UserApp { user_id, app_id }),
            _ => None,
        };
        parsed.unwrap_or(Revocation::All)
    }
}

impl Revocation {
    /// Whether this ends the grants (and so the tokens) of `user` for `app`; a `Token` names one
    /// OAuth2 token, not a grant.
    pub fn covers_grant_of(self, user: i64, app: i64) -> bool {
        match self {
            Revocation::Token(_) => false,
            Revocation::UserApp { user_id, app_id } => user == user_id && app == app_id,
            Revocation::App(id) => app == id,
            Revocation::All => true,
        }
    }
}

/// What a committed write makes stale on every instance: tokens, one user's profile, or one app's
/// OAuth1 consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    Tokens(Revocation),
    /// The user's memberships or sites changed: `/me` and the user's tokens (whose blog may be
    /// lost) must be read again.
    Profile(i64),
    /// The app changed (its consumer secret, callback or key): signed calls must read it again.
    Consumer(i64),
}

impl Stale {
    /// The notification payload: a [`Revocation`]'s, or `p:7`.
    pub fn payload(self) -> String {
        match self {
            Stale::Tokens(revocation) => revocation.payload(),
            Stale::Profile(user_id) => format!("p:{user_id}"),
            Stale::Consumer(app_id) => format!("c:{app_id}"),
        }
    }

    /// Reads a payload; anything unreadable means "everything", which is always safe.
    pub fn parse(payload: &str) -> Self {
        let id = |rest: &str| rest.parse::<i64>().ok();
        let parsed = match payload.split_once(':') {
            Some(("p", rest)) => id(rest).map(Stale::Profile),
            Some(("c", rest)) => id(rest).map(Stale::Consumer),
            _ => Some(Stale::Tokens(Revocation::parse(payload))),
        };
        parsed.unwrap_or(Stale::Tokens(Revocation::All))
    }
}

impl From<Revocation> for Stale {
    fn from(revocation: Revocation) -> Self {
        Stale::Tokens(revocation)
    }
}

impl Store {
    /// Keeps this instance's cache in step with revocations made elsewhere, until `stop` turns
    /// true: PostgreSQL `LISTEN`, reconnecting after a failure; SQLite `PRAGMA data_version`
    /// polling. The cache is live only while the watcher is sure it hears everything.
    pub async fn watch_revocations(&self, mut stop: watch::Receiver<bool>) {
        loop {
            let outcome = tokio::select! {
                outcome = self.watch_once() => outcome,
                _ = stop.wait_for(|s| *s) => break,
            };
            self.cache.set_live(false);
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "revocation watcher lost its connection; cache off");
            }
            tokio::select! {
                () = tokio::time::sleep(RECONNECT_PAUSE) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        self.cache.set_live(false);
    }

    /// One connection's worth of watching; returns when the connection fails.
    async fn watch_once(&self) -> Result<()> {
        match &self.db {
            Db::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                self.cache.set_live(true);
                loop {
                    // `None`: the connection dropped; notifications may have been missed.
                    let Some(note) = listener.try_recv().await? else {
                        return Ok(());
                    };
                    self.cache.forget(Stale::parse(note.payload()));
                }
            }
            Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?.detach();
                let mut seen: i64 =
                    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM revocation_log")
                        .fetch_one(&mut conn)
                        .await?;
                self.cache.set_live(true);
                loop {
                    tokio::time::sleep(SQLITE_POLL).await;
                    let announced: Vec<(i64, String)> = sqlx::query_as(
                        "SELECT seq, payload FROM revocation_log WHERE seq > $1 ORDER BY seq",
                    )
                    .bind(seen)
                    .fetch_all(&mut conn)
                    .await?;
                    for (seq, payload) in announced {
                        // This process's own announcements come back too; dropping twice is harmless.
                        self.cache.forget(Stale::parse(&payload));
                        seen = seq;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_garbage_means_everything() {
        for r in [
            Revocation::Token(7),
            Revocation::UserApp {
                user_id: 3,
                app_id: 9,
            },
            Revocation::App(9),
            Revocation::All,
        ] {
            assert_eq!(Revocation::parse(&r.payload()), r, "{r:?}");
        }
        for garbage in ["", "t:", "t:x", "ua:1", "zz:1", "a:1:2x"] {
            assert_eq!(Revocation::parse(garbage), Revocation::All, "{garbage:?}");
        }
    }

    #[test]
    fn profile_notices_round_trip_and_garbage_means_everything() {
        for stale in [
            Stale::Profile(7),
            Stale::Tokens(Revocation::App(9)),
            Stale::Tokens(Revocation::All),
        ] {
            assert_eq!(Stale::parse(&stale.payload()), stale, "{stale:?}");
        }
        assert_eq!(Stale::parse("c:4"), Stale::Consumer(4));
        for garbage in ["p:", "p:x", "p:1:2", "c:", "c:y"] {
            assert_eq!(Stale::parse(garbage), Stale::Tokens(Revocation::All));
        }
    }
}
