//! TK11: after real flows against a real server process logging at debug level, no code, token,
//! secret, password or session id appears in its logs.

use crate::both;
use crate::flows::*;
use crate::harness::*;

both! {
    async fn tk11_logs_never_contain_credentials(app) {
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
            .form(&[("grant_type", "password"), ("client_id", &id), ("client_secret", &w.s1), ("username", "alice"), ("password", ALICE_PASSWORD)])
            .send().await.unwrap().json().await.unwrap();
        let token = issued["access_token"].as_str().unwrap().to_owned();
        raw.get(format!("{base}/oauth2/token-info?client_id={id}&token={token}")).send().await.unwrap();
        raw.get(format!("{base}/rest/v1.1/me")).bearer_auth(&token).send().await.unwrap();
        raw.post(format!("{base}/oauth2/token?client_secret={}", w.s1)).send().await.unwrap();

        // The browser flow: login, consent, code exchange.
        let browser = new_browser();
        let form = browser.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
        let csrf = input(&form, "csrf").unwrap();
        let login = browser.post(format!("{base}/login"))
            .form(&[("username", "alice"), ("password", ALICE_PASSWORD), ("csrf", &csrf), ("redirect_to", "/")])
            .send().await.unwrap();
        assert_eq!(login.status().as_u16(), 303);
        let page = browser.get(format!("{base}/oauth2/authorize?{}", authz_query(w.c1.id, C1_REDIRECT, &[]))).send().await.unwrap().text().await.unwrap();
        let mut fields = hidden_inputs(&page);
        fields.push(("blog_id".into(), w.blog1.id.to_string()));
        fields.push(("action".into(), "approve".into()));
        let redirect = browser.post(format!("{base}/oauth2/authorize")).form(&fields).send().await.unwrap();
        let location = redirect.headers().get("location").unwrap().to_str().unwrap().to_owned();
        let code = param(&location_params(&location, false), "code").unwrap();
        let second: serde_json::Value = raw.post(format!("{base}/oauth2/token"))
            .form(&[("grant_type", "authorization_code"), ("client_id", &id), ("client_secret", &w.s1), ("code", &code), ("redirect_uri", C1_REDIRECT)])
            .send().await.unwrap().json().await.unwrap();
        let token2 = second["access_token"].as_str().unwrap().to_owned();
        drop(server);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;

        let logs = std::fs::read_to_string(&log).unwrap();
        assert!(logs.contains("/oauth2/token"), "the log has request lines: {logs}");
        for secret in [token.as_str(), token2.as_str(), code.as_str(), w.s1.as_str(), ALICE_PASSWORD, csrf.as_str()] {
            assert!(!logs.contains(secret), "a credential reached the log");
        }
        assert!(!logs.contains("token="), "no query string is logged");
    }
}
