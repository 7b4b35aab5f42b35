//! TK11: after real flows against a real server process logging at debug level, no code, token,
//! secret, password or session id appears in its logs.

use crate::both;
use crate::flows::*;
use crate::harness::*;

async fn tk11_logs_never_contain_credentials(app: TestApp) {
    use latchkey::domain::clock::Clock;
    app.clock.set(latchkey::domain::clock::SystemClock.now());
    let w = world(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let server = app.second_process_logging(Some(&log)).await;
    let base = server.base.clone();
    let raw = new_browser_without_cookies();
    let id = w.c1.id.to_string();

    // Password grant, token-info (token in the query string) and a bearer call.
    let issued: serde_json::Value = raw
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", &id),
            ("client_secret", &w.s1),
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["access_token"].as_str().unwrap().to_owned();
    raw.get(format!(
        "{base}/oauth2/token-info?client_id={id}&token={token}"
    ))
    .send()
    .await
    .unwrap();
    raw.get(format!("{base}/rest/v1.1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    raw.post(format!("{base}/oauth2/token?client_secret={}", w.s1))
        .send()
        .await
        .unwrap();

    // The browser flow: login, consent, code exchange.
    let browser = new_browser();
    let form = browser
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input(&form, "csrf").unwrap();
    let login = browser
        .post(format!("{base}/login"))
        .form(&[
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
            ("csrf", &csrf),
            ("redirect_to", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let page = browser
        .get(format!(
            "{base}/oauth2/authorize?{}",
            authz_query(w.c1.id, C1_REDIRECT, &[])
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut fields = hidden_inputs(&page);
    fields.push(("blog_id".into(), w.blog1.id.to_string()));
    fields.push(("action".into(), "approve".into()));
    let redirect = browser
        .post(format!("{base}/oauth2/authorize"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let location = redirect
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let code = param(&location_params(&location, false), "code").unwrap();
    let second: serde_json::Value = raw
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("client_secret", &w.s1),
            ("code", &code),
            ("redirect_uri", C1_REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token2 = second["access_token"].as_str().unwrap().to_owned();
    server.stop().await;

    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("/oauth2/token"),
        "the log has request lines: {logs}"
    );
    for secret in [
        token.as_str(),
        token2.as_str(),
        code.as_str(),
        w.s1.as_str(),
        ALICE_PASSWORD,
        csrf.as_str(),
    ] {
        assert!(!logs.contains(secret), "a credential reached the log");
    }
    assert!(!logs.contains("token="), "no query string is logged");
}
both!(tk11_logs_never_contain_credentials);

/// Starts `latchkey serve` on the test app's database with JSON logs at INFO, no public URL and no
/// secret key (so the key file is generated in `dir`), and waits until it is ready.
async fn serve_logging_json(
    app: &TestApp,
    dir: &std::path::Path,
) -> (ServerProcess, std::path::PathBuf) {
    let log = dir.join("server.log");
    let (base, mut command) = app.serve_command();
    command
        .env("LATCHKEY_SECRET_KEY_FILE", dir.join("keys/secret.key"))
        .env("LATCHKEY_LOG__FORMAT", "json")
        .env("LATCHKEY_LOG__LEVEL", "info")
        .env_remove("LATCHKEY_PUBLIC_URL")
        .env_remove("LATCHKEY_SECRET_KEY")
        .stderr(std::fs::File::create(&log).unwrap());
    (ServerProcess::start(base, command).await, log)
}

fn json_lines(log: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect()
}

async fn each_request_logs_one_info_line_and_each_security_event_a_warning(app: TestApp) {
    let w = world(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, log) = serve_logging_json(&app, dir.path()).await;
    let base = server.base.clone();
    let raw = new_browser_without_cookies();
    raw.get(format!(
        "{base}/oauth2/token-info?client_id={}&token=lkat_secret-looking",
        w.c1.id
    ))
    .header("x-request-id", "req-from-the-test")
    .send()
    .await
    .unwrap();
    let browser = new_browser();
    let form = browser
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input(&form, "csrf").unwrap();
    browser
        .post(format!("{base}/login"))
        .form(&[
            ("username", "alice"),
            ("password", "not her password"),
            ("csrf", &csrf),
            ("redirect_to", "/"),
        ])
        .send()
        .await
        .unwrap();
    let evil = authz_query(w.c1.id, "https://evil.example/cb", &[]);
    raw.get(format!("{base}/oauth2/authorize?{evil}"))
        .send()
        .await
        .unwrap();
    server.stop().await;

    let lines = json_lines(&log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("lkat_secret-looking") && !text.contains("not her password"),
        "no secret in the log"
    );
    let request = lines
        .iter()
        .find(|l| l["fields"]["request_id"] == "req-from-the-test")
        .unwrap_or_else(|| panic!("no request line: {text}"));
    assert_eq!(request["level"], "INFO");
    assert_eq!(request["fields"]["message"], "request");
    assert_eq!(request["fields"]["method"], "GET");
    assert_eq!(request["fields"]["route"], "/oauth2/token-info");
    assert_eq!(request["fields"]["status"], 400);
    assert!(request["fields"]["latency_ms"].as_f64().unwrap() >= 0.0);
    let warnings: Vec<&serde_json::Value> = lines.iter().filter(|l| l["level"] == "WARN").collect();
    let event = |name: &str| {
        warnings
            .iter()
            .find(|l| l["fields"]["event"] == name)
            .copied()
    };
    let failed = event("login_failed").unwrap_or_else(|| panic!("no failed-login warning: {text}"));
    assert_eq!(failed["fields"]["user_id"], w.alice.id);
    let refused =
        event("redirect_refused").unwrap_or_else(|| panic!("no redirect warning: {text}"));
    assert_eq!(refused["fields"]["app_id"], w.c1.id);

    // The first start: the derived public URL and the new key file are both said out loud.
    let key_file = dir.path().join("keys/secret.key");
    assert!(key_file.exists());
    assert!(
        warnings
            .iter()
            .any(|l| l["fields"]["path"] == key_file.display().to_string()),
        "{text}"
    );
    assert!(
        warnings.iter().any(|l| l["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("LATCHKEY_PUBLIC_URL is not set")),
        "{text}"
    );
}
both!(each_request_logs_one_info_line_and_each_security_event_a_warning);
