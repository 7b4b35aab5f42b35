//! The test harness: `TestApp` spawns the real router on `127.0.0.1:0` over a fresh database, with
//! a manual clock; helpers read like the protocol. `both!` runs a test on SQLite and PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use latchkey::AppState;
use latchkey::admin::{self, AppInput, UserInput};
use latchkey::config::Config;
use latchkey::domain::app::AppType;
use latchkey::domain::clock::ManualClock;
use latchkey::domain::random::OsRandom;
use latchkey::store::{App, Tx};
use latchkey::store::{
    AuditEvent, NewCode, NewPost, NewToken, Post, Role, Site, Store, StoreError, TokenGrant, User,
};
use sqlx::Connection;

/// Declares [`Committed`]: for each write method of `Tx` a test sets up with, the same call on the
/// `Store` in a transaction of its own (begin → the write → commit).
macro_rules! committed {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        /// Set-up writes on the store, each committed at once.
        pub(crate) trait Committed {
            $(async fn $name(&self, $($arg: $ty),*) -> Result<$ret, StoreError>;)*
        }

        impl Committed for Store {
            $(async fn $name(&self, $($arg: $ty),*) -> Result<$ret, StoreError> {
                let mut tx = self.begin();
                let done = tx.$name($($arg),*).await?;
                tx.commit().await?;
                Ok(done)
            })*
        }
    };
}

committed! {
    grant_token(token: &NewToken<'_>, now: i64) -> TokenGrant;
    grant_code(code: &NewCode<'_>, now: i64) -> i64;
    revoke_token(token_id: i64) -> bool;
    revoke_app_for_user(user_id: i64, app_id: i64) -> u64;
    set_membership(site_id: i64, user_id: i64, role: Role, now: i64) -> ();
    remove_membership(site_id: i64, user_id: i64) -> bool;
    delete_app(app_id: i64) -> bool;
    delete_user(user_id: i64) -> bool;
    audit(event: &AuditEvent<'_>, now: i64) -> ();
    enable_two_step(user_id: i64, secret_enc: &[u8], step_used: i64, recovery_digests: &[[u8; 32]], now: i64) -> bool;
    create_app_password(user_id: i64, name: &str, lookup: &str, password_hash: &str, now: i64) -> i64;
    create_post(new: &NewPost<'_>, now: i64) -> Post;
}

/// Runs `work` (an administration call, a session start) on a transaction of its own and commits
/// it when `work` succeeds.
pub(crate) async fn commit_with<T, E: From<StoreError>>(
    store: &Store,
    work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let mut tx = store.begin();
    let done = work(&mut tx).await?;
    tx.commit().await?;
    Ok(done)
}

pub(crate) const POSTGRES_ENV: &str = "LATCHKEY_TEST_POSTGRES_URL";
/// A fixed start time for the manual clock (2026-01-01T00:00:00Z).
pub(crate) const T0: i64 = 1_767_225_600;

/// How long a test waits for something that takes milliseconds on an idle machine (a revocation
/// reaching another instance, a server process becoming ready) before it fails. Generous, since
/// several test runs may share two cores, yet far below what would mean that something else did
/// it: the validation cache's 60 s TTL, the 5 s pool acquire timeout.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `done` every few milliseconds until it holds and returns how long that took; fails,
/// saying `what` never happened, once `limit` has passed. A wait bounded by the property it
/// waits for, in place of a fixed sleep or a wall-clock bound a loaded machine can miss.
pub(crate) async fn wait_until(
    what: &str,
    limit: Duration,
    mut done: impl AsyncFnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        if done().await {
            return start.elapsed();
        }
        let waited = start.elapsed();
        assert!(waited < limit, "{what}: not after {waited:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Runs the test `async fn $name(app: TestApp)` of the enclosing module once on SQLite and once on
/// PostgreSQL, as the tests `$name::sqlite` and `$name::postgres` (a module may share its
/// function's name). Settings after the name change the server's `Config` first:
/// `both!(name, signup = true)`. The test is an ordinary function, so rustfmt formats it.
#[macro_export]
macro_rules! both {
    ($name:ident $(, $($setting:ident).+ = $value:expr)* $(,)?) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let backend = $crate::harness::Backend::Sqlite;
                let app = $crate::harness::TestApp::spawn_with(backend, |_config| {
                    $(_config.$($setting).+ = $value;)*
                });
                super::$name(app.await.unwrap()).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let backend = $crate::harness::Backend::Postgres;
                let app = $crate::harness::TestApp::spawn_with(backend, |_config| {
                    $(_config.$($setting).+ = $value;)*
                });
                if let Some(app) = app.await {
                    super::$name(app).await
                }
            }
        }
    };
}

pub(crate) struct TestApp {
    pub base: String,
    pub state: AppState,
    pub store: Store,
    pub clock: ManualClock,
    pub backend: Backend,
    /// A browser-like client: cookie jar on, redirects off.
    pub http: reqwest::Client,
    _guard: DbGuard,
}

enum DbGuard {
    Sqlite(
        #[allow(dead_code, reason = "held only so the folder is deleted with the app")]
        tempfile::TempDir,
    ),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let DbGuard::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ = sqlx::query(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

fn skip_notice() {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::SeqCst) {
        use std::io::Write;
        // Written to the real stderr, past the test runner's capture, so the skip is visible.
        let _ = writeln!(
            std::io::stderr(),
            "note: {POSTGRES_ENV} is unset: PostgreSQL tests were skipped (SQLite ran)"
        );
    }
}

pub(crate) fn new_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client without a cookie jar, for tests that handle cookies by hand.
pub(crate) fn new_browser_without_cookies() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    /// A server on a fresh database, or `None` when PostgreSQL is asked for but not configured.
    pub(crate) async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub(crate) async fn spawn_with(
        backend: Backend,
        configure: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        let suffix = hex::encode(latchkey::domain::random::bytes::<8>(&OsRandom));
        let (url, guard) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/latchkey.db", dir.path().display());
                (url, DbGuard::Sqlite(dir))
            }
            Backend::Postgres => {
                let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
                    skip_notice();
                    return None;
                };
                let name = format!("latchkey_test_{suffix}");
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("{POSTGRES_ENV} is set but PostgreSQL is unreachable: {e}")
                    });
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let mut url = url::Url::parse(&admin_url).unwrap();
                url.set_path(&name);
                (url.to_string(), DbGuard::Postgres { admin_url, name })
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut config = Config {
            database_url: url,
            listen: addr.to_string(),
            public_url: base.clone(),
            secret_key: "11".repeat(32),
            ..Config::default()
        };
        config.database.max_connections = 8;
        configure(&mut config);
        let settings = config.validate().unwrap();
        let key = settings.secret_key(&OsRandom).unwrap();
        let store = Store::connect(&settings.database).await.unwrap();
        store.migrate().await.unwrap();
        let clock = ManualClock::new(T0);
        let state = AppState::new(
            store.clone(),
            settings,
            Arc::new(clock.clone()),
            Arc::new(OsRandom),
            key,
        );
        let served = state.clone();
        tokio::spawn(async move {
            latchkey::server::run(listener, served, std::future::pending())
                .await
                .unwrap();
        });
        Some(TestApp {
            base,
            state,
            store,
            clock,
            backend,
            http: new_browser(),
            _guard: guard,
        })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    // ---- fixtures (security.md §0) ----

    pub(crate) async fn user(&self, username: &str, password: &str) -> User {
        let input = UserInput {
            username,
            email: &format!("{username}@example.com"),
            password,
            display_name: None,
        };
        let mut tx = self.store.begin();
        let user = admin::create_user(&mut tx, &OsRandom, &input, self.clock_now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        user
    }

    pub(crate) async fn site(&self, owner: &User, url: &str) -> Site {
        let mut tx = self.store.begin();
        let site = admin::create_site(
            &mut tx,
            owner,
            url,
            &format!("Site {url}"),
            false,
            self.clock_now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        site
    }

    pub(crate) async fn member(&self, site: &Site, user: &User, role: Role) {
        self.store
            .set_membership(site.id, user.id, role, self.clock_now())
            .await
            .unwrap();
    }

    /// Registers an app and returns it with its client secret.
    pub(crate) async fn app(
        &self,
        owner: &User,
        redirects: &[&str],
        app_type: AppType,
    ) -> (App, String) {
        let redirects: Vec<String> = redirects.iter().map(|s| s.to_string()).collect();
        let input = AppInput {
            name: "Test App",
            description: "An app under test",
            website: "https://client.example",
            icon_url: "",
            app_type,
            redirect_uris: &redirects,
            js_origins: &[],
            allow_implicit: true,
            oauth1_callback: None,
        };
        let mut tx = self.store.begin();
        let created = admin::create_app(
            &mut tx,
            &OsRandom,
            &self.state.key.0,
            owner,
            &input,
            &self.base,
            self.clock_now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        (created.app, created.client_secret)
    }

    /// A live `global` access token for `user_id` and `app_id` (under a new grant), written
    /// straight through the store as the token endpoint would: its value and what it stands for.
    pub(crate) async fn issue_token(
        &self,
        user_id: i64,
        app_id: i64,
        expires_at: Option<i64>,
    ) -> Issued {
        let minted = latchkey::oauth2::tokens::mint(&self.state);
        let new = NewToken {
            digest: &minted.digest,
            app_id,
            user_id,
            site_id: None,
            scope: "global",
            origin: "implicit",
            expires_at,
        };
        let grant = self
            .store
            .grant_token(&new, self.clock_now())
            .await
            .unwrap();
        Issued {
            token: minted.token,
            grant,
        }
    }

    pub(crate) fn clock_now(&self) -> i64 {
        use latchkey::domain::clock::Clock;
        self.clock.now()
    }

    /// Starts `latchkey serve` as a separate process on the same database and waits until it is
    /// ready. It runs on the system clock, so set `self.clock` to real time before using both.
    pub(crate) async fn second_process(&self) -> ServerProcess {
        self.second_process_logging(None).await
    }

    /// Like `second_process`, with debug logs written to `log`.
    pub(crate) async fn second_process_logging(
        &self,
        log: Option<&std::path::Path>,
    ) -> ServerProcess {
        let (base, mut command) = self.serve_command();
        if let Some(path) = log {
            command
                .env("LATCHKEY_LOG__LEVEL", "debug")
                .stderr(std::fs::File::create(path).unwrap());
        }
        ServerProcess::start(base, command).await
    }

    /// `latchkey serve` on this app's database, public URL and secret key, listening on a free
    /// port (its base URL comes first): warnings only, logged nowhere, killed when dropped. The
    /// caller adds its own settings and starts it with [`ServerProcess::start`].
    pub(crate) fn serve_command(&self) -> (String, tokio::process::Command) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
        command
            .arg("serve")
            .env("LATCHKEY_DATABASE_URL", &self.state.settings.database.url)
            .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
            .env("LATCHKEY_PUBLIC_URL", &self.base)
            .env("LATCHKEY_SECRET_KEY", hex::encode(self.state.key.0))
            .env("LATCHKEY_LOG__LEVEL", "warn")
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        (format!("http://127.0.0.1:{port}"), command)
    }

    /// One integer from a query, for side-effect assertions.
    pub(crate) async fn scalar(&self, sql: &str) -> i64 {
        match self.store.db() {
            latchkey::store::Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            latchkey::store::Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    pub(crate) async fn text(&self, sql: &str) -> String {
        match self.store.db() {
            latchkey::store::Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            latchkey::store::Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    pub(crate) async fn scalar_bytes(&self, sql: &str) -> Vec<u8> {
        match self.store.db() {
            latchkey::store::Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            latchkey::store::Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// True when `needle` appears anywhere in the database's text or binary columns (TK03, CL08).
    pub(crate) async fn database_contains(&self, needle: &str) -> bool {
        let tables = [
            "users",
            "sites",
            "apps",
            "grants",
            "auth_codes",
            "access_tokens",
            "sessions",
            "audit_events",
        ];
        for table in tables {
            let rows: Vec<Vec<u8>> = match self.store.db() {
                latchkey::store::Db::Sqlite(p) => {
                    let cols: Vec<String> = sqlx::query_scalar(&format!(
                        "SELECT name FROM pragma_table_info('{table}')"
                    ))
                    .fetch_all(p)
                    .await
                    .unwrap();
                    let mut all = Vec::new();
                    for c in cols {
                        let sql =
                            format!("SELECT CAST({c} AS BLOB) FROM {table} WHERE {c} IS NOT NULL");
                        all.extend(
                            sqlx::query_scalar::<_, Vec<u8>>(&sql)
                                .fetch_all(p)
                                .await
                                .unwrap(),
                        );
                    }
                    all
                }
                latchkey::store::Db::Postgres(p) => {
                    let text: Vec<String> =
                        sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                            .fetch_all(p)
                            .await
                            .unwrap();
                    text.into_iter().map(String::into_bytes).collect()
                }
            };
            // PostgreSQL prints bytea as hex, so look for the hex form as well.
            let hexed = hex::encode(needle);
            let found = |hay: &[u8], n: &[u8]| hay.windows(n.len()).any(|w| w == n);
            if rows
                .iter()
                .any(|r| found(r, needle.as_bytes()) || found(r, hexed.as_bytes()))
            {
                return true;
            }
        }
        false
    }

    /// Counts rows of a table, for side-effect assertions.
    pub(crate) async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match self.store.db() {
            latchkey::store::Db::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await.unwrap(),
            latchkey::store::Db::Postgres(p) => {
                sqlx::query_scalar(&sql).fetch_one(p).await.unwrap()
            }
        }
    }
}

/// Waits until the instance's revocation watcher is listening (the validation cache is bypassed
/// before).
pub(crate) async fn wait_live(store: &Store) {
    let live = async || store.validation_cache().is_live();
    wait_until("the revocation watcher connects", PATIENCE, live).await;
}

/// A `latchkey serve` child process, killed when dropped.
pub(crate) struct ServerProcess {
    pub base: String,
    child: tokio::process::Child,
}

impl ServerProcess {
    pub(crate) fn new(base: String, child: tokio::process::Child) -> Self {
        Self { base, child }
    }

    /// Spawns `command` (a `latchkey serve` listening at `base`) and waits until it is ready.
    pub(crate) async fn start(base: String, mut command: tokio::process::Command) -> Self {
        let server = Self::new(base, command.spawn().unwrap());
        server.wait_ready().await;
        server
    }

    /// Waits until the server answers `/health/ready` with a success.
    pub(crate) async fn wait_ready(&self) {
        let client = new_browser();
        let url = format!("{}/health/ready", self.base);
        let ready = async || {
            let answer = client.get(&url).send().await;
            answer.is_ok_and(|r| r.status().is_success())
        };
        wait_until("the server process is ready", 3 * PATIENCE, ready).await;
    }

    /// Stops the server as an operator would (SIGTERM) and waits until it has exited, so that
    /// everything it logged is in its log, whole lines only (a kill may cut the last line off).
    pub(crate) async fn stop(mut self) {
        let pid = self.child.id().expect("the server is running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        // Past the server's own 10 s shutdown deadline.
        let exited = tokio::time::timeout(3 * PATIENCE, self.child.wait())
            .await
            .expect("the server exits after SIGTERM")
            .unwrap();
        assert!(exited.success(), "graceful shutdown: {exited}");
    }
}

/// Posts `form` once to each of `urls`, all at the same moment (each from its own client, released
/// together by a barrier): races between requests, even over several server processes. Their
/// statuses and bodies, in the order of `urls`.
pub(crate) async fn post_at_once(urls: &[String], form: &[(&str, &str)]) -> Vec<(u16, String)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(urls.len()));
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let tasks: Vec<_> = urls
        .iter()
        .map(|url| {
            let (url, form, barrier) = (url.clone(), form.clone(), barrier.clone());
            tokio::spawn(async move {
                let client = new_browser();
                barrier.wait().await;
                let r = client.post(url).form(&form).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// Reads a response in full (its status, headers and body) without judging it, so that the checks
/// on it can be synchronous and `#[track_caller]`: a failure points at the test's line, not here.
///
/// ```ignore
/// let page = app.get("/login").await.read().await.assert_status(200);
/// ```
pub(crate) trait ResponseExt {
    async fn read(self) -> Checked;
}

impl ResponseExt for reqwest::Response {
    async fn read(self) -> Checked {
        let status = self.status().as_u16();
        let headers = self.headers().clone();
        let body = self.text().await.unwrap_or_default();
        Checked {
            status,
            headers,
            body,
        }
    }
}

/// A response read in full by [`ResponseExt::read`].
pub(crate) struct Checked {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Checked {
    /// Fails at the caller's line, printing the body, unless the status is `status`.
    #[track_caller]
    pub(crate) fn assert_status(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// The body as JSON; fails at the caller's line when it is not.
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        match serde_json::from_str(&self.body) {
            Ok(json) => json,
            Err(e) => panic!("not JSON ({e}): {}", self.body),
        }
    }

    /// The header `name`; fails at the caller's line when it is absent.
    #[track_caller]
    pub(crate) fn header(&self, name: &str) -> &str {
        match self.headers.get(name) {
            Some(value) => value.to_str().unwrap(),
            None => panic!("no {name} header in {:?}", self.headers),
        }
    }
}

/// A token [`TestApp::issue_token`] stored.
pub(crate) struct Issued {
    pub token: String,
    pub grant: TokenGrant,
}
