//! The validation cache (performance.md, "A validation cache is allowed … but revocation must win";
//! security.md F07, TK07): bounded in-memory maps in front of the reads every authenticated request
//! makes: the grant behind a bearer token's digest ([`Store::token_by_digest`]), the OAuth1 access
//! token behind a signed call's `oauth_token` ([`Store::oauth1_access_token`]), for `/me` and
//! introspection the profile of the user (the account and its site memberships), and the app a
//! client authenticates as at the token, revocation and introspection endpoints
//! ([`Store::client_app`]: its secret's digest is compared on every request, so a reset secret fails
//! as soon as the reset is announced, like a revoked token).
//!
//! Revocation wins because the store has one place that applies it: a write that deletes tokens
//! ([`Tx::revoke_token`], [`Tx::revoke_app_for_user`], [`Tx::revoke_app_password`],
//! [`Tx::delete_app`], [`Tx::delete_user`], the replay branch of [`Store::redeem_code`]) announces a
//! [`Revocation`] on its transaction (`Tx::announce`, see `notify`), and [`Tx::commit`] drops the
//! matching entries of this instance's cache once the transaction has committed; no call site
//! pairs a write with an invalidation by hand, and a transaction dropped without a commit drops
//! nothing. Writes that change what `/me` shows (memberships, sites) announce a
//! [`Stale::Profile`], and app changes (a new secret, new details, grant types, the deletion of an
//! unclaimed registration) a [`Stale::Consumer`], the same way; both drop the app's cached
//! consumer and client. A profile notice also
//! drops the user's cached grants: each carries whether the user administers its blog
//! ([`TokenGrant::site_admin`]), which token-info needs to refuse a single-blog token whose user
//! lost the blog (`domain::reach::holds`) without a query per call. Other instances (and, on
//! SQLite, other processes such as the CLI) hear the announcement through
//! [`Store::watch_revocations`] and drop theirs; only what was announced is dropped, so unrelated
//! writes (nonces, new tokens) leave the cache warm. While that watcher is not listening the cache
//! is bypassed. Writes made outside Latchkey (an `sqlite3` shell) are seen only when the entries'
//! [`TTL`] runs out.
//!
//! Whatever this cache forgets is also told to its subscribers ([`ValidationCache::subscribe`]):
//! what a token opened beyond the cache (the MCP endpoint's sessions and their open streams) ends
//! at the same moment, for a local commit and an announcement from elsewhere alike.
//!
//! [`Tx::revoke_token`]: super::Tx::revoke_token
//! [`Tx::revoke_app_for_user`]: super::Tx::revoke_app_for_user
//! [`Tx::revoke_app_password`]: super::Tx::revoke_app_password
//! [`Tx::delete_app`]: super::Tx::delete_app
//! [`Tx::delete_user`]: super::Tx::delete_user
//! [`Tx::commit`]: super::Tx::commit
//!
//! Only live tokens are cached (never "unknown"), so a token issued on any instance validates at
//! once. Expiry is re-checked on every hit. A fill that raced with an invalidation is discarded (the
//! epoch check below), and every entry also lives at most [`TTL`], a backstop for a notification
//! lost on a connection that died silently.

use std::borrow::Borrow;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

mod map;

use map::ClockMap;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use super::notify::{Revocation, Stale};
use super::{AccessToken, App, Membership, Result, Store, TokenGrant};

/// How many grants the cache holds (about 200 bytes each).
pub const CAPACITY: u64 = 200_000;
/// How many user profiles it holds (a few hundred bytes each, more for users of many sites).
pub const PROFILE_CAPACITY: u64 = 50_000;
/// How many OAuth1 consumers (apps) it holds.
pub const CONSUMER_CAPACITY: u64 = 10_000;
/// How many notices a slow subscriber may fall behind before it is told it lagged.
pub const NOTICE_BACKLOG: usize = 1024;
/// The longest an entry lives even when no revocation is heard.
pub const TTL: Duration = Duration::from_secs(60);

/// A user as `/me` and `/wp-json/wp/v2/users/me` show them, with what they derive from the email.
#[derive(Debug, Clone)]
pub struct Profile {
    pub user_id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub language: String,
    pub created_at: i64,
    /// Hex SHA-256 of the trimmed, lower-cased email (Gravatar's key).
    pub email_hash: String,
    /// Every site of the user, oldest membership first (see [`Store::memberships`]).
    pub memberships: Vec<Membership>,
}

/// A sealed secret of a cached row, once opened (issue 17): the OAuth1 layer opens it on first use
/// and the cached entry keeps it, so a signed call costs one AEAD open per cache fill, not one per
/// call. It goes with its entry (a revocation or an app change drops both). Never printed.
#[derive(Clone, Default)]
pub struct Opened(std::sync::OnceLock<Option<String>>);

impl Opened {
    /// The opened secret, running `open` on first use only (`None`: it could not be opened).
    pub fn get_or_open(&self, open: impl FnOnce() -> Option<String>) -> Option<&str> {
        self.0.get_or_init(open).as_deref()
    }
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opened(..)")
    }
}

/// The cache itself; one per `Store`, so one per instance.
pub struct ValidationCache {
    entries: ClockMap<[u8; 32], TokenGrant>,
    oauth1: ClockMap<[u8; 32], AccessToken>,
    consumers: ClockMap<String, App>,
    /// Apps by id, as client authentication reads them.
    apps: ClockMap<i64, App>,
    profiles: ClockMap<i64, Profile>,
    /// Bumped by every invalidation; a fill whose lookup began in an older epoch is dropped.
    epoch: AtomicU64,
    /// Orders fills against invalidations (fills share it, invalidations take it alone).
    fill: RwLock<()>,
    /// True while a watcher is connected and listening; otherwise the cache is bypassed.
    live: AtomicBool,
    /// Every notice [`ValidationCache::forget`] applies, for subscribers.
    notices: broadcast::Sender<Stale>,
}

impl std::fmt::Debug for ValidationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidationCache")
            .field("entries", &self.entries.len())
            .field("live", &self.live.load(Ordering::Relaxed))
            .finish()
    }
}

impl Default for ValidationCache {
    fn default() -> Self {
        Self::new(CAPACITY, TTL)
    }
}

impl ValidationCache {
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            entries: ClockMap::new(capacity, ttl),
            oauth1: ClockMap::new(capacity, ttl),
            consumers: ClockMap::new(CONSUMER_CAPACITY, ttl),
            apps: ClockMap::new(CONSUMER_CAPACITY, ttl),
            profiles: ClockMap::new(PROFILE_CAPACITY, ttl),
            epoch: AtomicU64::new(0),
            fill: RwLock::new(()),
            live: AtomicBool::new(false),
            notices: broadcast::channel(NOTICE_BACKLOG).0,
        }
    }

    /// The notices this cache applies from now on (revocations, profile and consumer changes),
    /// local or announced by another instance. A subscriber that falls [`NOTICE_BACKLOG`] behind
    /// gets `Lagged` and must assume it missed a revocation.
    pub fn subscribe(&self) -> broadcast::Receiver<Stale> {
        self.notices.subscribe()
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Drops app `id`: its consumer and its client.
    fn forget_consumer(&self, id: i64) {
        self.consumers.drop_if(move |_, app| app.id == id);
        self.apps.remove(&id);
    }

    /// Runs `insert` unless an invalidation happened since `epoch` was read.
    fn fill_with(&self, epoch: u64, insert: impl FnOnce()) {
        let _fill = self.fill.read().unwrap_or_else(|e| e.into_inner());
        if self.live.load(Ordering::Acquire) && self.epoch() == epoch {
            insert();
        }
    }

    /// The entry of `map` under `key`; `None` also while no watcher is listening (bypassed).
    fn lookup<K, Q, V>(&self, map: &ClockMap<K, V>, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q> + Hash + Eq + Clone,
        Q: Hash + Eq + ?Sized,
    {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        map.get(key)
    }

    /// Drops every entry `revocation` covers; later lookups go to the database.
    pub fn revoke(&self, revocation: Revocation) {
        self.forget(Stale::Tokens(revocation));
    }

    /// Drops every entry `stale` covers; later lookups go to the database.
    pub fn forget(&self, stale: Stale) {
        // No subscriber is no error.
        let _ = self.notices.send(stale);
        let _exclusive = self.fill.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        match stale {
            Stale::Profile(user_id) => {
                self.profiles.remove(&user_id);
                self.entries
                    .drop_if(move |_, grant| grant.user_id == user_id);
            }
            Stale::Consumer(app_id) => self.forget_consumer(app_id),
            Stale::Tokens(Revocation::All) => {
                self.entries.clear();
                self.oauth1.clear();
                self.consumers.clear();
                self.apps.clear();
                self.profiles.clear();
            }
            Stale::Tokens(revocation) => {
                self.entries
                    .drop_if(move |_, grant| revokes_grant(revocation, grant));
                if let Revocation::App(app_id) = revocation {
                    self.forget_consumer(app_id);
                }
                if !matches!(revocation, Revocation::Token(_)) {
                    self.oauth1
                        .drop_if(move |_, token| revokes_oauth1(revocation, token));
                }
            }
        }
    }

    /// Turns the cache on (a watcher is listening) or off (it is not: bypass, and forget it all).
    pub(super) fn set_live(&self, live: bool) {
        if !live {
            self.live.store(false, Ordering::Release);
        }
        self.revoke(Revocation::All);
        if live {
            self.live.store(true, Ordering::Release);
        }
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    pub fn len(&self) -> u64 {
        self.entries.len()
    }

    /// Entries of every map (tokens, OAuth1 tokens, consumers, clients, profiles), for the
    /// metrics.
    pub fn entries(&self) -> u64 {
        self.entries.len()
            + self.oauth1.len()
            + self.consumers.len()
            + self.apps.len()
            + self.profiles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Store {
    /// Reads `key` from `map`, or on a miss runs `load` (not started before the epoch is read) and
    /// caches what it found unless an invalidation raced it. Absent rows are never cached.
    async fn read_through<K, Q, V>(
        &self,
        map: &ClockMap<K, V>,
        key: &Q,
        load: impl Future<Output = Result<Option<V>>>,
    ) -> Result<Option<Arc<V>>>
    where
        K: Borrow<Q> + Hash + Eq + Clone,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        if let Some(hit) = self.cache.lookup(map, key) {
            self.metrics.cache_hit.increment(1);
            return Ok(Some(hit));
        }
        self.metrics.cache_miss.increment(1);
        let epoch = self.cache.epoch();
        let Some(value) = load.await? else {
            return Ok(None);
        };
        let value = Arc::new(value);
        self.cache
            .fill_with(epoch, || map.insert(key.to_owned(), Arc::clone(&value)));
        Ok(Some(value))
    }

    /// The live grant behind this token digest, through the cache. Only one lookup by digest ever
    /// reaches the database, and only on a miss; expiry is checked on every hit too.
    pub async fn token_grant(
        &self,
        digest: &[u8; 32],
        now: i64,
    ) -> Result<Option<Arc<TokenGrant>>> {
        let grant = self
            .read_through(
                &self.cache.entries,
                digest,
                self.token_by_digest(digest, now),
            )
            .await?;
        Ok(grant.filter(|g| g.expires_at.is_none_or(|at| at > now)))
    }

    /// The OAuth1 access token behind this key digest, through the cache (tokens without expiry;
    /// they end with their grant).
    pub async fn oauth1_access_token(&self, digest: &[u8; 32]) -> Result<Option<Arc<AccessToken>>> {
        let load = self.oauth1_access_token_uncached(digest);
        self.read_through(&self.cache.oauth1, digest, load).await
    }

    /// The app whose OAuth1 consumer key this is, through the cache.
    pub async fn consumer(&self, key: &str) -> Result<Option<Arc<App>>> {
        let load = self.app_by_consumer_key(key);
        self.read_through(&self.cache.consumers, key, load).await
    }

    /// The app with this id, as a client authenticates as it, through the cache.
    pub async fn client_app(&self, id: i64) -> Result<Option<Arc<App>>> {
        let load = self.app_by_id(id);
        self.read_through(&self.cache.apps, &id, load).await
    }

    /// The user's profile (account and memberships), through the cache.
    pub async fn profile(&self, user_id: i64) -> Result<Option<Arc<Profile>>> {
        let load = async {
            let Some(user) = self.user_by_id(user_id).await? else {
                return Ok(None);
            };
            let memberships = self.memberships(user_id).await?;
            let email = user.email.trim().to_lowercase();
            Ok(Some(Profile {
                user_id: user.id,
                email_hash: hex::encode(Sha256::digest(email.as_bytes())),
                username: user.username,
                email: user.email,
                display_name: user.display_name,
                language: user.language,
                created_at: user.created_at,
                memberships,
            }))
        };
        self.read_through(&self.cache.profiles, &user_id, load)
            .await
    }

    /// This instance's validation cache.
    pub fn validation_cache(&self) -> &ValidationCache {
        &self.cache
    }

    /// Drops from this instance's cache what a committed transaction announced (`Tx::commit`),
    /// counting revocations.
    pub(super) fn invalidate(&self, stale: Stale) {
        if let Stale::Tokens(revocation) = stale {
            self.metrics
                .count("latchkey_revocations_total", "covers", revocation.label());
        }
        self.cache.forget(stale);
    }
}

/// Whether `revocation` ends this cached grant.
fn revokes_grant(revocation: Revocation, grant: &TokenGrant) -> bool {
    match revocation {
        Revocation::Token(id) => grant.token_id == id,
        _ => revocation.covers_grant_of(grant.user_id, grant.app_id),
    }
}

/// Whether `revocation` ends an OAuth1 access token (it goes with its grant; `Token` names an
/// OAuth2 token).
fn revokes_oauth1(revocation: Revocation, token: &AccessToken) -> bool {
    !matches!(revocation, Revocation::Token(_))
        && revocation.covers_grant_of(token.user_id, token.app_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(cache: &ValidationCache, digest: &[u8; 32]) -> Option<Arc<TokenGrant>> {
        cache.lookup(&cache.entries, digest)
    }

    fn fill(cache: &ValidationCache, digest: [u8; 32], grant: Arc<TokenGrant>, epoch: u64) {
        cache.fill_with(epoch, || cache.entries.insert(digest, grant));
    }

    fn grant(token_id: i64, user_id: i64, app_id: i64) -> Arc<TokenGrant> {
        Arc::new(TokenGrant {
            token_id,
            app_id,
            user_id,
            grant_id: 1,
            site_id: None,
            scope: "global".into(),
            expires_at: None,
            issued_at: 0,
            site_admin: false,
            audiences: None,
        })
    }

    #[test]
    fn a_revocation_drops_exactly_the_entries_it_covers() {
        let cache = ValidationCache::default();
        cache.set_live(true);
        fill(&cache, [1; 32], grant(1, 10, 100), cache.epoch());
        fill(&cache, [2; 32], grant(2, 10, 200), cache.epoch());
        fill(&cache, [3; 32], grant(3, 11, 100), cache.epoch());
        cache.revoke(Revocation::Token(1));
        assert!(get(&cache, &[1; 32]).is_none());
        assert!(get(&cache, &[2; 32]).is_some());
        cache.revoke(Revocation::App(100));
        assert!(get(&cache, &[3; 32]).is_none());
        assert!(get(&cache, &[2; 32]).is_some());
        cache.revoke(Revocation::UserApp {
            user_id: 10,
            app_id: 200,
        });
        assert!(get(&cache, &[2; 32]).is_none());
    }

    #[test]
    fn oauth1_tokens_end_with_their_grant_not_with_an_oauth2_token_id() {
        let token = AccessToken {
            id: 1,
            secret_enc: Vec::new(),
            app_id: 100,
            user_id: 10,
            site_id: Some(5),
            grant_id: 1,
            opened_secret: Opened::default(),
        };
        assert!(!revokes_oauth1(Revocation::Token(1), &token));
        assert!(!revokes_oauth1(Revocation::App(200), &token));
        assert!(revokes_oauth1(Revocation::App(100), &token));
        let other_user = Revocation::UserApp {
            user_id: 11,
            app_id: 100,
        };
        assert!(!revokes_oauth1(other_user, &token));
        let same_user = Revocation::UserApp {
            user_id: 10,
            app_id: 100,
        };
        assert!(revokes_oauth1(same_user, &token));
        assert!(revokes_oauth1(Revocation::All, &token));
    }

    #[test]
    fn a_profile_notice_drops_the_users_grants_and_no_one_elses() {
        let cache = ValidationCache::default();
        cache.set_live(true);
        fill(&cache, [1; 32], grant(1, 10, 100), cache.epoch());
        fill(&cache, [2; 32], grant(2, 11, 100), cache.epoch());
        cache.forget(Stale::Profile(10));
        assert!(get(&cache, &[1; 32]).is_none());
        assert!(get(&cache, &[2; 32]).is_some());
    }

    #[test]
    fn a_fill_that_raced_a_revocation_is_discarded() {
        let cache = ValidationCache::default();
        cache.set_live(true);
        let before = cache.epoch();
        cache.revoke(Revocation::Token(1));
        fill(&cache, [1; 32], grant(1, 10, 100), before);
        assert!(get(&cache, &[1; 32]).is_none());
    }

    #[test]
    fn without_a_watcher_the_cache_is_bypassed() {
        let cache = ValidationCache::default();
        fill(&cache, [1; 32], grant(1, 10, 100), cache.epoch());
        assert!(get(&cache, &[1; 32]).is_none());
        cache.set_live(true);
        fill(&cache, [1; 32], grant(1, 10, 100), cache.epoch());
        assert!(get(&cache, &[1; 32]).is_some());
        cache.set_live(false);
        assert!(get(&cache, &[1; 32]).is_none());
    }
}
