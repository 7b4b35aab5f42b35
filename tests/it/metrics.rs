//! `/metrics` (product.md, Operations): scraped over HTTP and parsed as the Prometheus text format.

use std::collections::HashMap;

use crate::both;
use crate::flows::*;
use crate::harness::*;

/// A scrape, parsed: each sample by its name with its labels in the order they were written
/// (`name{a="1",b="2"}`), with the `# TYPE` of every family.
pub(crate) struct Scrape {
    pub samples: HashMap<String, f64>,
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// Parses the text format strictly: every line is a comment, blank, or `series value`.
    pub(crate) fn parse(text: &str) -> Scrape {
        let mut samples = HashMap::new();
        let mut types = HashMap::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with("# HELP ") {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
                assert!(
                    ["counter", "gauge", "histogram", "summary"].contains(&kind),
                    "{line}"
                );
                types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
            };
            let name = series.split('{').next().unwrap();
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "bad metric name in {line}"
            );
            if let Some(labels) = series.strip_prefix(name) {
                assert!(
                    labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                    "bad labels in {line}"
                );
            }
            assert!(
                samples.insert(series.to_owned(), value).is_none(),
                "duplicate {line}"
            );
        }
        Scrape { samples, types }
    }

    #[track_caller]
    pub(crate) fn value(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in the scrape: {:#?}", self.samples.keys()))
    }
}

pub(crate) async fn scrape(base: &str) -> Scrape {
    let response = new_browser()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(
        response
            .header("content-type")
            .starts_with("text/plain; version=0.0.4")
    );
    Scrape::parse(&response.body)
}

async fn metrics_count_requests_by_route_and_token_validations_by_outcome(app: TestApp) {
    let w = world(&app).await;
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    app.token_info(w.c1.id, &issued.token)
        .await
        .read()
        .await
        .assert_status(200);
    app.token_info(w.c1.id, &issued.token)
        .await
        .read()
        .await
        .assert_status(200);
    app.token_info(w.c1.id, "lkat_not-a-real-token")
        .await
        .read()
        .await
        .assert_status(400);
    let unknown = latchkey::oauth2::tokens::mint(&app.state).token;
    app.token_info(w.c1.id, &unknown)
        .await
        .read()
        .await
        .assert_status(400);
    app.get("/no/such/page?token=secret")
        .await
        .read()
        .await
        .assert_status(404);

    let m = scrape(&app.base).await;
    assert_eq!(m.types["latchkey_http_requests_total"], "counter");
    assert_eq!(
        m.types["latchkey_http_request_duration_seconds"],
        "histogram"
    );
    assert_eq!(
        m.value(
            r#"latchkey_http_requests_total{route="/oauth2/token-info",method="GET",status="200"}"#
        ),
        2.0
    );
    assert_eq!(
        m.value(
            r#"latchkey_http_requests_total{route="/oauth2/token-info",method="GET",status="400"}"#
        ),
        2.0
    );
    assert_eq!(
        m.value(r#"latchkey_http_requests_total{route="unmatched",method="GET",status="404"}"#),
        1.0
    );
    assert_eq!(m.value(r#"latchkey_http_request_duration_seconds_count{route="/oauth2/token-info",status="200"}"#), 2.0);
    assert_eq!(m.value(r#"latchkey_http_request_duration_seconds_bucket{route="/oauth2/token-info",status="200",le="+Inf"}"#), 2.0);
    assert!(
        m.samples
            .keys()
            .all(|k| !k.contains("secret") && !k.contains("/no/such")),
        "raw paths are never labels"
    );
    assert_eq!(
        m.value(r#"latchkey_token_validations_total{outcome="valid"}"#),
        2.0
    );
    assert_eq!(
        m.value(r#"latchkey_token_validations_total{outcome="invalid"}"#),
        1.0
    );
    assert_eq!(
        m.value(r#"latchkey_token_validations_total{outcome="malformed"}"#),
        1.0
    );
    let hits = m.value(r#"latchkey_validation_cache_lookups_total{result="hit"}"#);
    let misses = m.value(r#"latchkey_validation_cache_lookups_total{result="miss"}"#);
    assert_eq!(
        hits + misses,
        3.0,
        "three well-formed lookups went through the cache"
    );
    assert!(m.value("latchkey_validation_cache_entries") >= 0.0);
    let backend = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(
        m.value(&format!(
            r#"latchkey_build_info{{version="{}",backend="{backend}"}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    assert_eq!(m.value("latchkey_db_pool_max_connections"), 8.0);
    assert!(m.value(r#"latchkey_db_pool_connections{state="in_use"}"#) >= 0.0);
    assert!(m.value(r#"latchkey_db_pool_connections{state="idle"}"#) >= 0.0);
    assert!(m.value("latchkey_db_pool_acquire_seconds_count") >= 1.0);
}
both!(metrics_count_requests_by_route_and_token_validations_by_outcome);

async fn metrics_count_login_failures_throttles_revocations_and_oauth1_refusals(app: TestApp) {
    let w = world(&app).await;
    let budget = app.state.settings.limits.login_failures_per_account;
    for _ in 0..budget {
        app.login_as(&new_browser(), "alice", "wrong password")
            .await;
    }
    app.login_as(&new_browser(), "alice", "wrong password")
        .await
        .read()
        .await
        .assert_status(429);
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    app.store.revoke_token(issued.grant.token_id).await.unwrap();
    new_browser()
        .post(app.url("/oauth1/request"))
        .send()
        .await
        .unwrap();

    let m = scrape(&app.base).await;
    assert_eq!(
        m.value(r#"latchkey_login_failures_total{reason="login_failed"}"#),
        f64::from(budget)
    );
    assert_eq!(
        m.value(r#"latchkey_audit_events_total{kind="lockout"}"#),
        1.0
    );
    assert_eq!(m.value(r#"latchkey_throttled_total{route="/login"}"#), 1.0);
    assert_eq!(
        m.value(r#"latchkey_revocations_total{covers="token"}"#),
        1.0
    );
    let refused: f64 = m
        .samples
        .iter()
        .filter(|(k, _)| k.starts_with("latchkey_oauth1_failures_total{problem="))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        refused,
        1.0,
        "{:?}",
        m.samples
            .keys()
            .filter(|k| k.contains("oauth1"))
            .collect::<Vec<_>>()
    );
}
both!(metrics_count_login_failures_throttles_revocations_and_oauth1_refusals);

async fn metrics_listen_moves_metrics_off_the_public_listener(app: TestApp) {
    drop(app);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = if std::env::var(POSTGRES_ENV).is_ok() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let app = TestApp::spawn_with(backend, |c| c.metrics.listen = format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    app.get("/metrics").await.read().await.assert_status(404);
    // The metrics listener is bound beside the server, a moment after it starts.
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let mut answer = None;
    let answered = async || {
        answer = new_browser().get(&metrics).send().await.ok();
        answer.is_some()
    };
    wait_until("the metrics listener answers", PATIENCE, answered).await;
    let body = answer.unwrap().read().await.assert_status(200).body;
    let m = Scrape::parse(&body);
    assert!(
        m.value(r#"latchkey_http_requests_total{route="unmatched",method="GET",status="404"}"#)
            >= 1.0
    );
}
both!(metrics_listen_moves_metrics_off_the_public_listener);
