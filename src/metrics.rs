//! Prometheus metrics (product.md, Operations: `/metrics`), kept per instance rather than in the
//! process-wide `metrics` recorder: each [`Metrics`] owns its own
//! [`PrometheusRecorder`](metrics_exporter_prometheus::PrometheusRecorder), so several servers in
//! one process (the test suite, the benchmark) never mix their figures, and nothing has to be
//! installed globally.
//!
//! The hot path uses handles registered once ([`Metrics::token_valid`], the per-route handles of
//! [`Metrics::request`]): an increment is one atomic add, with no label string built per request.
//! Rare events (failures, refusals) register by name and label on the spot; the recorder returns
//! the existing handle. Gauges that describe state (pool, cache) are sampled when scraped.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dashmap::DashMap;
use metrics::{Counter, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

/// Latency buckets, in seconds: token-info answers in well under a millisecond, logins take
/// hundreds (argon2id).
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Nonce batch sizes (`store::nonces` writes at most 512 per statement).
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

static METADATA: Metadata<'static> = Metadata::new("latchkey", Level::INFO, Some("latchkey"));

/// Every metric Latchkey exports, with its help text; the README lists the same.
pub(crate) const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "latchkey_http_requests_total",
        "Requests answered, by matched route, method and status.",
    ),
    (
        "latchkey_http_request_duration_seconds",
        "Time to answer a request, by matched route and status.",
    ),
    (
        "latchkey_token_validations_total",
        "Bearer token validations by outcome: valid, invalid (unknown, revoked or expired), malformed.",
    ),
    (
        "latchkey_validation_cache_lookups_total",
        "Validation cache lookups by result: hit or miss.",
    ),
    (
        "latchkey_validation_cache_entries",
        "Entries in this instance's validation cache (tokens, OAuth1 tokens, consumers, profiles).",
    ),
    (
        "latchkey_grants_total",
        "Grants recorded (an approval that issued a code, token or OAuth1 token), by kind.",
    ),
    (
        "latchkey_revocations_total",
        "Revocations committed by this instance, by what they covered.",
    ),
    (
        "latchkey_audit_events_total",
        "Audit events written, by kind.",
    ),
    (
        "latchkey_login_failures_total",
        "Failed logins (password, 2-step code, application password), by reason.",
    ),
    (
        "latchkey_throttled_total",
        "Requests refused with 429 because a failure budget was spent, by matched route.",
    ),
    (
        "latchkey_oauth1_failures_total",
        "OAuth1-signed requests refused, by oauth_problem.",
    ),
    (
        "latchkey_db_pool_connections",
        "Database connections of this instance's pool, by state (in_use, idle).",
    ),
    (
        "latchkey_db_pool_max_connections",
        "The pool's configured size.",
    ),
    (
        "latchkey_db_pool_acquire_seconds",
        "Time to acquire a pooled connection, probed at every scrape.",
    ),
    (
        "latchkey_oauth1_nonce_batch_size",
        "OAuth1 nonces written per database statement.",
    ),
    (
        "latchkey_build_info",
        "Always 1; the labels name the version and the storage backend.",
    ),
];

/// The request counter and latency histogram of one route and method, by status.
pub struct RouteMetrics {
    route: Arc<str>,
    method: &'static str,
    /// Status 200's, registered at the first.
    ok: OnceLock<(Counter, Histogram)>,
    by_status: DashMap<u16, (Counter, Histogram)>,
}

impl RouteMetrics {
    /// The route's label: its matched path, or a fixed word.
    pub fn route(&self) -> &str {
        &self.route
    }

    pub fn method(&self) -> &'static str {
        self.method
    }
}

/// One instance's metrics: its recorder and the handles of the hot path.
pub struct Metrics {
    recorder: PrometheusRecorder,
    /// Route names, each allocated once: the label of every request of the route shares it.
    route_names: DashMap<Box<str>, Arc<str>>,
    unmatched: Arc<str>,
    routes: DashMap<(Arc<str>, &'static str), Arc<RouteMetrics>>,
    pub token_valid: Counter,
    pub token_invalid: Counter,
    pub token_malformed: Counter,
    pub cache_hit: Counter,
    pub cache_miss: Counter,
    pub nonce_batch: Histogram,
    pub pool_acquire: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("latchkey_oauth1_nonce_batch_size".into()),
                    BATCH,
                )
            })
            .expect("the bucket lists are not empty")
            .build_recorder();
        for (name, help) in DESCRIPTIONS {
            let unit = name.ends_with("_seconds").then_some(Unit::Seconds);
            let key = KeyName::from_const_str(name);
            if name.ends_with("_seconds") || name.ends_with("_size") {
                recorder.describe_histogram(key, unit, (*help).into());
            } else if name.ends_with("_total") {
                recorder.describe_counter(key, unit, (*help).into());
            } else {
                recorder.describe_gauge(key, unit, (*help).into());
            }
        }
        let counter = |name: &'static str, label: &'static str, value: &'static str| {
            recorder.register_counter(
                &Key::from_parts(name, vec![Label::from_static_parts(label, value)]),
                &METADATA,
            )
        };
        let validations = "latchkey_token_validations_total";
        let lookups = "latchkey_validation_cache_lookups_total";
        Self {
            token_valid: counter(validations, "outcome", "valid"),
            token_invalid: counter(validations, "outcome", "invalid"),
            token_malformed: counter(validations, "outcome", "malformed"),
            cache_hit: counter(lookups, "result", "hit"),
            cache_miss: counter(lookups, "result", "miss"),
            nonce_batch: recorder.register_histogram(
                &Key::from_static_name("latchkey_oauth1_nonce_batch_size"),
                &METADATA,
            ),
            pool_acquire: recorder.register_histogram(
                &Key::from_static_name("latchkey_db_pool_acquire_seconds"),
                &METADATA,
            ),
            routes: DashMap::new(),
            route_names: DashMap::new(),
            unmatched: Arc::from("unmatched"),
            recorder,
        }
    }

    /// The shared name of a matched route (`None`: no route matched, a 404 or 405 by the fallback;
    /// raw paths are never labels, so a scan cannot grow the series without bound).
    pub fn route(&self, matched: Option<&str>) -> Arc<str> {
        let Some(path) = matched else {
            return Arc::clone(&self.unmatched);
        };
        if let Some(name) = self.route_names.get(path) {
            return Arc::clone(&name);
        }
        Arc::clone(
            &self
                .route_names
                .entry(path.into())
                .or_insert_with(|| Arc::from(path)),
        )
    }

    /// The request metrics of a route (the matched path, `Metrics::route`) and method: found in a
    /// map per request by the full stack, kept by the lean stack (`server::lean`) for its routes.
    pub fn route_metrics(&self, route: &Arc<str>, method: &'static str) -> Arc<RouteMetrics> {
        let key = (Arc::clone(route), method);
        if let Some(found) = self.routes.get(&key) {
            return Arc::clone(&found);
        }
        let made = || {
            Arc::new(RouteMetrics {
                route: Arc::clone(route),
                method,
                ok: OnceLock::new(),
                by_status: DashMap::new(),
            })
        };
        Arc::clone(&self.routes.entry(key).or_insert_with(made))
    }

    /// Records one answered request of `route`.
    pub fn request(&self, route: &RouteMetrics, status: u16, took: Duration) {
        let register = || self.register_status(route, status);
        let other;
        let pair = if status == 200 {
            // The common answer: one atomic load, no map and no lock.
            route.ok.get_or_init(register)
        } else {
            other = match route.by_status.get(&status) {
                Some(pair) => pair,
                None => route
                    .by_status
                    .entry(status)
                    .or_insert_with(register)
                    .downgrade(),
            };
            &*other
        };
        pair.0.increment(1);
        pair.1.record(took.as_secs_f64());
    }

    fn register_status(&self, route: &RouteMetrics, status: u16) -> (Counter, Histogram) {
        let status_text = status.to_string();
        let counter = self.recorder.register_counter(
            &Key::from_parts(
                "latchkey_http_requests_total",
                vec![
                    Label::new("route", route.route.to_string()),
                    Label::from_static_parts("method", route.method),
                    Label::new("status", status_text.clone()),
                ],
            ),
            &METADATA,
        );
        let histogram = self.recorder.register_histogram(
            &Key::from_parts(
                "latchkey_http_request_duration_seconds",
                vec![
                    Label::new("route", route.route.to_string()),
                    Label::new("status", status_text),
                ],
            ),
            &METADATA,
        );
        (counter, histogram)
    }

    /// Folds the samples recorded since the last call into the histograms' buckets. Until then
    /// each sample is kept in memory (8 bytes a request), so a server nobody scrapes runs this on
    /// a timer (`jobs`); a scrape runs it too.
    pub fn upkeep(&self) {
        self.recorder.handle().run_upkeep();
    }

    /// Counts one occurrence of a rare event (a failure, a refusal, an audit event).
    pub fn count(&self, name: &'static str, label: &'static str, value: &str) {
        self.recorder
            .register_counter(
                &Key::from_parts(name, vec![Label::new(label, value.to_owned())]),
                &METADATA,
            )
            .increment(1);
    }

    /// Sets a gauge (sampled state, set at scrape time).
    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &'static str)], value: f64) {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::from_static_parts(k, v))
            .collect();
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
            .set(value);
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        self.upkeep();
        self.recorder.handle().render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn requests_are_counted_by_route_method_and_status_across_upkeeps() {
        let metrics = Metrics::new();
        let route = metrics.route_metrics(&metrics.route(Some("/oauth2/token-info")), "GET");
        assert!(Arc::ptr_eq(
            &route,
            &metrics.route_metrics(&metrics.route(Some("/oauth2/token-info")), "GET")
        ));
        metrics.request(&route, 200, Duration::from_millis(2));
        metrics.request(&route, 400, Duration::from_millis(1));
        metrics.upkeep();
        metrics.request(&route, 200, Duration::from_millis(3));
        let text = metrics.render();
        let ok = r#"{route="/oauth2/token-info",status="200"}"#;
        let count = format!("latchkey_http_request_duration_seconds_count{ok}");
        assert_eq!(sample(&text, &count), Some(2.0), "{text}");
        let sum = format!("latchkey_http_request_duration_seconds_sum{ok}");
        assert!((sample(&text, &sum).unwrap() - 0.005).abs() < 1e-9);
        let bad =
            r#"latchkey_http_requests_total{route="/oauth2/token-info",method="GET",status="400"}"#;
        assert_eq!(sample(&text, bad), Some(1.0), "{text}");
        // No series for a status that was never answered.
        assert!(!text.contains(r#"status="404""#));
    }
}
