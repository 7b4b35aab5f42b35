//! 2-step authentication, application passwords and the end of sessions: security catalogue PW05,
//! PW08 (application passwords), BR11, and the pages under `/me/security`. TOTP codes are computed
//! here with totp-rs from the key the page shows, at the server's manual clock.

use totp_rs::{Algorithm, Secret, TOTP};

use crate::both;
use crate::flows::*;
use crate::harness::*;
use crate::selfservice::form_csrf;

pub(crate) const BOB_PASSWORD: &str = "bob's long password";

/// The text between `start` and the next `end` in `html`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = html.find(start)? + start.len();
    let j = html[i..].find(end)? + i;
    Some(&html[i..j])
}

/// What enabling 2-step left the test with: the seed as the page showed it and the recovery codes.
struct Enrolled {
    seed: Vec<u8>,
    recovery: Vec<String>,
    /// The page that showed the recovery codes.
    codes_page: String,
}

fn code_at(seed: &[u8], unix: i64) -> String {
    TOTP::new(Algorithm::SHA1, 6, 1, 30, seed.to_vec())
        .unwrap()
        .generate(unix as u64)
}

impl TestApp {
    fn now_code(&self, e: &Enrolled) -> String {
        code_at(&e.seed, self.clock_now())
    }

    /// Turns 2-step on in a logged-in browser, through the page, and moves the clock to the next
    /// time step (the confirming code is spent).
    async fn enable_two_step(&self, browser: &reqwest::Client) -> Enrolled {
        let page = browser
            .get(self.url("/me/security/two-step"))
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(200);
        assert!(
            page.body.contains("src=\"data:image/svg+xml;base64,"),
            "{}",
            page.body
        );
        let typed = between(&page.body, "<code id=\"seed\">", "</code>").unwrap();
        let seed = Secret::Encoded(typed.replace(' ', "")).to_bytes().unwrap();
        assert_eq!(seed.len(), 20);
        let code = code_at(&seed, self.clock_now());
        let done = browser
            .post(self.url("/me/security/two-step/enable"))
            .form(&[
                (
                    "csrf",
                    form_csrf(&page.body, "/me/security/two-step/enable"),
                ),
                ("setup", input(&page.body, "setup").unwrap()),
                ("code", code),
            ])
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(200);
        assert_eq!(done.header("cache-control"), "no-store");
        let recovery: Vec<String> = done
            .body
            .split("<li><code>")
            .skip(1)
            .map(|s| s.split("</code>").next().unwrap().to_owned())
            .collect();
        assert_eq!(recovery.len(), 10, "{}", done.body);
        self.clock.advance(30);
        Enrolled {
            seed,
            recovery,
            codes_page: done.body,
        }
    }

    /// Sends the login form; for a 2-step account the answer is the code form.
    async fn password_step(
        &self,
        browser: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> Checked {
        let r = self.login_as(browser, username, password).await;
        r.read().await
    }

    async fn submit_otp(&self, browser: &reqwest::Client, form: &str, otp: &str) -> Checked {
        let r = browser
            .post(self.url("/login/two-step"))
            .form(&[
                ("csrf", input(form, "csrf").unwrap().as_str()),
                ("redirect_to", "/"),
                ("otp", otp),
            ])
            .send()
            .await
            .unwrap();
        r.read().await
    }

    /// Logs `browser` in as bob with both factors.
    async fn bob_logs_in(&self, browser: &reqwest::Client, otp: &str) -> Checked {
        let form = self.password_step(browser, "bob", BOB_PASSWORD).await;
        assert_eq!(form.status, 200, "{}", form.body);
        self.submit_otp(browser, &form.body, otp).await
    }

    /// Creates an application password through the page and returns it as shown (grouped).
    async fn create_app_password(&self, browser: &reqwest::Client, name: &str) -> String {
        let page = browser
            .get(self.url("/me/security/application-passwords"))
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(200);
        let done = browser
            .post(self.url("/me/security/application-passwords"))
            .form(&[
                (
                    "csrf",
                    form_csrf(&page.body, "/me/security/application-passwords").as_str(),
                ),
                ("name", name),
            ])
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(200);
        assert_eq!(done.header("cache-control"), "no-store");
        between(&done.body, "<code id=\"new-password\">", "</code>")
            .unwrap()
            .to_owned()
    }

    /// The password grant for bob on his own client c3.
    async fn bob_grant(
        &self,
        w: &World,
        password: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let id = w.c3.id.to_string();
        let mut form = vec![
            ("grant_type", "password"),
            ("client_id", id.as_str()),
            ("client_secret", w.s3.as_str()),
            ("username", "bob"),
            ("password", password),
            ("scope", "global"),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    async fn bob_browser(&self) -> reqwest::Client {
        let browser = new_browser();
        self.login_as(&browser, "bob", BOB_PASSWORD)
            .await
            .read()
            .await
            .assert_status(303);
        browser
    }
}

/// Every value of every row of `table`, as bytes (PostgreSQL: the row's text form).
async fn row_bytes(app: &TestApp, table: &str) -> Vec<Vec<u8>> {
    match app.store.db() {
        latchkey::store::Db::Sqlite(p) => {
            let cols: Vec<String> =
                sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                    .fetch_all(p)
                    .await
                    .unwrap();
            let mut all = Vec::new();
            for c in cols {
                let sql = format!("SELECT CAST({c} AS BLOB) FROM {table} WHERE {c} IS NOT NULL");
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
            sqlx::query_scalar::<_, String>(&format!("SELECT t::text FROM {table} t"))
                .fetch_all(p)
                .await
                .unwrap()
                .into_iter()
                .map(String::into_bytes)
                .collect()
        }
    }
}

fn session_cookie(c: &Checked) -> Option<String> {
    c.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("latchkey_session=") && c.len() > "latchkey_session=".len())
}

async fn enabling_two_step_makes_the_login_ask_for_a_code_usable_once(app: TestApp) {
    world(&app).await;
    let settings = app.bob_browser().await;
    let sessions_before = app.count("sessions").await;
    let e = app.enable_two_step(&settings).await;
    let on = settings
        .get(app.url("/me/security/two-step"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(
        on.body.contains("2-step authentication is on")
            && on.body.contains("10 unused recovery codes"),
        "{}",
        on.body
    );

    // The right password alone starts no session: it leads to the code form.
    let browser = new_browser();
    let form = app.password_step(&browser, "bob", BOB_PASSWORD).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"otp\""), "{}", form.body);
    assert!(session_cookie(&form).is_none());
    assert_eq!(app.count("sessions").await, sessions_before);
    let home = browser
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(!home.body.contains("Logged in as"));

    // The code completes the login with a new session id.
    let code = app.now_code(&e);
    let done = app.submit_otp(&browser, &form.body, &code).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.header("location"), "/");
    assert!(session_cookie(&done).is_some());
    assert_eq!(app.count("sessions").await, sessions_before + 1);
    let home = browser
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(home.body.contains("Logged in as"));

    // The same code, in the same time step, does not log in anyone again (PW05: single use).
    let other = new_browser();
    let reused = app.bob_logs_in(&other, &code).await;
    assert_eq!(reused.status, 401, "{}", reused.body);
    assert!(reused.body.contains("already used"));
    assert!(session_cookie(&reused).is_none());
    // Nor does the confirming code of the enrolment, 30 s ago.
    let earlier = code_at(&e.seed, app.clock_now() - 30);
    assert_eq!(
        app.submit_otp(&other, &reused.body, &earlier).await.status,
        401
    );
    // The next step's code does.
    app.clock.advance(30);
    let next = app
        .submit_otp(&other, &reused.body, &app.now_code(&e))
        .await;
    assert_eq!(next.status, 303, "{}", next.body);

    // The pending login that completed is gone with its cookie.
    app.clock.advance(30);
    let replay = app
        .submit_otp(&browser, &form.body, &app.now_code(&e))
        .await;
    assert_eq!(replay.status, 303);
    assert!(
        replay.header("location").starts_with("/login"),
        "{}",
        replay.header("location")
    );
}
both!(enabling_two_step_makes_the_login_ask_for_a_code_usable_once);

async fn a_recovery_code_logs_in_once(app: TestApp) {
    world(&app).await;
    let e = app.enable_two_step(&app.bob_browser().await).await;
    let code = &e.recovery[3];
    // Typed with different case and spacing, it still counts.
    let typed = format!(" {} ", code.to_uppercase().replace('-', " - "));
    let browser = new_browser();
    let done = app.bob_logs_in(&browser, &typed).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let again = app.bob_logs_in(&new_browser(), code).await;
    assert_eq!(again.status, 401);
    let page = browser
        .get(app.url("/me/security/two-step"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(
        page.body.contains("9 unused recovery codes"),
        "{}",
        page.body
    );
    // Another one still works.
    assert_eq!(
        app.bob_logs_in(&new_browser(), &e.recovery[4]).await.status,
        303
    );
}
both!(a_recovery_code_logs_in_once);

async fn pw05_wrong_codes_spend_the_account_budget_and_then_are_refused_unchecked(app: TestApp) {
    world(&app).await;
    let e = app.enable_two_step(&app.bob_browser().await).await;
    let budget = app.state.settings.limits.login_failures_per_account;
    let browser = new_browser();
    let form = app.password_step(&browser, "bob", BOB_PASSWORD).await;
    for n in 0..budget {
        let guess = format!("{:06}", 100_000 + n);
        let wrong = app.submit_otp(&browser, &form.body, &guess).await;
        assert_eq!(wrong.status, 401, "guess {n}");
        assert!(wrong.body.contains("field-error"));
    }
    // Over budget: even the right code is refused, and a fresh password login does not buy
    // new guesses.
    let right = app
        .submit_otp(&browser, &form.body, &app.now_code(&e))
        .await;
    assert_eq!(right.status, 429);
    assert!(right.header("retry-after").parse::<i64>().unwrap() > 0);
    let again = app.password_step(&new_browser(), "bob", BOB_PASSWORD).await;
    assert_eq!(again.status, 429);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'two_step_failed'")
            .await,
        budget as i64
    );
    assert_eq!(app.count("sessions").await, 1);
    // After the window, the right code works.
    app.clock.advance(app.state.settings.limits.window_secs);
    assert_eq!(
        app.bob_logs_in(&new_browser(), &app.now_code(&e))
            .await
            .status,
        303
    );
}
both!(pw05_wrong_codes_spend_the_account_budget_and_then_are_refused_unchecked);

async fn disabling_two_step_needs_a_fresh_code(app: TestApp) {
    world(&app).await;
    let browser = app.bob_browser().await;
    let e = app.enable_two_step(&browser).await;
    let page = browser
        .get(app.url("/me/security/two-step"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let csrf = form_csrf(&page.body, "/me/security/two-step/disable");
    let disable = |code: String| {
        let csrf = csrf.clone();
        let browser = browser.clone();
        let url = app.url("/me/security/two-step/disable");
        async move {
            browser
                .post(url)
                .form(&[("csrf", csrf), ("code", code)])
                .send()
                .await
                .unwrap()
        }
    };
    // The code that confirmed the enrolment was spent; a wrong one is refused next to the field.
    let used = disable(code_at(&e.seed, app.clock_now() - 30))
        .await
        .read()
        .await
        .assert_status(400);
    assert!(used.body.contains("id=\"code-error\""), "{}", used.body);
    disable("000000".into())
        .await
        .read()
        .await
        .assert_status(400);
    // Without the CSRF token nothing happens.
    browser
        .post(app.url("/me/security/two-step/disable"))
        .form(&[("code", app.now_code(&e))])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(403);
    let done = disable(app.now_code(&e))
        .await
        .read()
        .await
        .assert_status(303);
    assert_eq!(done.header("location"), "/me/security/two-step");
    let off = browser
        .get(app.url("/me/security/two-step"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(off.body.contains("2-step authentication is off"));
    assert_eq!(app.count("recovery_codes").await, 0);
    // The login no longer asks for a code.
    app.login_as(&new_browser(), "bob", BOB_PASSWORD)
        .await
        .read()
        .await
        .assert_status(303);
}
both!(disabling_two_step_needs_a_fresh_code);

async fn a_wrong_confirmation_code_keeps_the_same_key_and_shows_the_error_by_the_field(
    app: TestApp,
) {
    world(&app).await;
    let browser = app.bob_browser().await;
    let page = browser
        .get(app.url("/me/security/two-step"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let seed_shown = between(&page.body, "<code id=\"seed\">", "</code>")
        .unwrap()
        .to_owned();
    let post = |code: &str, setup: String| {
        browser
            .post(app.url("/me/security/two-step/enable"))
            .form(&[
                (
                    "csrf",
                    form_csrf(&page.body, "/me/security/two-step/enable"),
                ),
                ("setup", setup),
                ("code", code.to_owned()),
            ])
            .send()
    };
    let wrong = post("123456", input(&page.body, "setup").unwrap())
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert!(wrong.body.contains("id=\"code-error\""));
    assert!(
        wrong.body.contains(&seed_shown),
        "the same key is shown again"
    );
    // A forged or damaged setup value is refused without a 500.
    post("123456", "AAAA".into())
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    post("123456", "%%%".into())
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE totp_secret_enc IS NOT NULL")
            .await,
        0
    );
}
both!(a_wrong_confirmation_code_keeps_the_same_key_and_shows_the_error_by_the_field);

async fn application_passwords_are_created_listed_and_revoked_one_by_one(app: TestApp) {
    let w = world(&app).await;
    let browser = app.bob_browser().await;
    let shown = app.create_app_password(&browser, "My phone").await;
    // Shown once, in four groups of four.
    let groups: Vec<&str> = shown.split(' ').collect();
    assert_eq!(groups.len(), 4, "{shown}");
    assert!(
        groups
            .iter()
            .all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_alphanumeric()))
    );
    let second = app.create_app_password(&browser, "Backup script").await;
    let list = browser
        .get(app.url("/me/security/application-passwords"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(list.body.contains("My phone") && list.body.contains("Backup script"));
    assert!(
        !list.body.contains(&shown) && !list.body.contains(&shown.replace(' ', "")),
        "never shown again"
    );
    assert!(
        list.body.contains("2026-01-01 00:00 UTC"),
        "creation date: {}",
        list.body
    );
    assert_eq!(list.body.matches(">Never<").count(), 2);

    // Spaces are ignored on input; last use is recorded.
    app.clock.advance(3600);
    app.bob_grant(&w, &shown, &[])
        .await
        .read()
        .await
        .assert_status(200);
    app.bob_grant(&w, &shown.replace(' ', ""), &[])
        .await
        .read()
        .await
        .assert_status(200);
    let list = browser
        .get(app.url("/me/security/application-passwords"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(
        list.body.contains("2026-01-01 01:00 UTC"),
        "last used: {}",
        list.body
    );
    assert_eq!(list.body.matches(">Never<").count(), 1);

    // A name is required, and the error is shown by the field.
    let csrf = form_csrf(&list.body, "/me/security/application-passwords");
    let bad = browser
        .post(app.url("/me/security/application-passwords"))
        .form(&[("csrf", csrf.as_str()), ("name", "   ")])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert!(bad.body.contains("id=\"name-error\""));
    let long = "x".repeat(150);
    let bad = browser
        .post(app.url("/me/security/application-passwords"))
        .form(&[("csrf", csrf.as_str()), ("name", long.as_str())])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert!(bad.body.contains(&long), "the form keeps what was typed");

    // Revoking one leaves the other.
    let first_id = app
        .scalar("SELECT id FROM app_passwords WHERE name = 'My phone'")
        .await;
    let revoke = |id: String| {
        browser
            .post(app.url(&format!("/me/security/application-passwords/{id}/revoke")))
            .form(&[("csrf", csrf.clone())])
            .send()
    };
    revoke(first_id.to_string())
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    let list = browser
        .get(app.url("/me/security/application-passwords"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(!list.body.contains("My phone") && list.body.contains("Backup script"));
    let refused = app
        .bob_grant(&w, &shown, &[])
        .await
        .read()
        .await
        .assert_status(400);
    assert_eq!(
        refused.json()["error_description"],
        "Incorrect username or password."
    );
    app.bob_grant(&w, &second, &[])
        .await
        .read()
        .await
        .assert_status(200);
    // Unknown, foreign and malformed ids are 404, never 500.
    revoke(first_id.to_string())
        .await
        .unwrap()
        .read()
        .await
        .assert_status(404);
    revoke("abc".into())
        .await
        .unwrap()
        .read()
        .await
        .assert_status(404);
    revoke("99999999999999999999999".into())
        .await
        .unwrap()
        .read()
        .await
        .assert_status(404);
    let alice = app.alice_browser().await;
    let alice_page = alice
        .get(app.url("/me/security/application-passwords"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let second_id = app
        .scalar("SELECT id FROM app_passwords WHERE name = 'Backup script'")
        .await;
    alice
        .post(app.url(&format!(
            "/me/security/application-passwords/{second_id}/revoke"
        )))
        .form(&[(
            "csrf",
            form_csrf(&alice_page.body, "/me/security/application-passwords"),
        )])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(404);
    app.bob_grant(&w, &second, &[])
        .await
        .read()
        .await
        .assert_status(200);
}
both!(application_passwords_are_created_listed_and_revoked_one_by_one);

async fn pw05_two_step_accounts_get_tokens_only_with_application_passwords(app: TestApp) {
    let w = world(&app).await;
    let browser = app.bob_browser().await;
    let ap_bob = app.create_app_password(&browser, "ap-bob").await;
    app.enable_two_step(&browser).await;

    // ap-bob gets a token.
    let ok = app
        .bob_grant(&w, &ap_bob, &[])
        .await
        .read()
        .await
        .assert_status(200);
    let token = ok.json()["access_token"].as_str().unwrap().to_owned();
    app.me(&token).await.read().await.assert_status(200);

    // The main password: the generic error, or needs_2fa for a client that says it handles it.
    let plain = app
        .bob_grant(&w, BOB_PASSWORD, &[])
        .await
        .read()
        .await
        .assert_status(400);
    assert_eq!(
        plain.json(),
        serde_json::json!({
            "error": "invalid_request",
            "error_description": "Incorrect username or password."
        })
    );
    let flagged = app
        .bob_grant(&w, BOB_PASSWORD, &[("wpcom_supports_2fa", "true")])
        .await
        .read()
        .await
        .assert_status(400);
    assert_eq!(flagged.json()["error"], "needs_2fa");
    assert!(
        flagged.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("application password")
    );
    assert_eq!(flagged.header("cache-control"), "no-store");
    // A wrong password with the flag stays generic.
    let wrong = app
        .bob_grant(&w, "not it", &[("wpcom_supports_2fa", "true")])
        .await
        .read()
        .await
        .assert_status(400);
    assert_eq!(wrong.json()["error"], "invalid_request");

    // ap-bob typed into the web login fails like a wrong password, and starts no session.
    let sessions = app.count("sessions").await;
    for typed in [ap_bob.clone(), ap_bob.replace(' ', "")] {
        let web = app
            .login_as(&new_browser(), "bob", &typed)
            .await
            .read()
            .await
            .assert_status(401);
        assert!(web.body.contains("Incorrect username or password."));
    }
    assert_eq!(app.count("sessions").await, sessions);

    // needs_2fa counts against the same budget: 3 failures so far (2 × needs_2fa + 1 wrong
    // password) plus the 2 web attempts make 5, the budget.
    let budget = app.state.settings.limits.login_failures_per_account;
    assert_eq!(budget, 5);
    let throttled = app
        .bob_grant(&w, BOB_PASSWORD, &[("wpcom_supports_2fa", "true")])
        .await
        .read()
        .await
        .assert_status(429);
    assert!(throttled.headers.contains_key("retry-after"));
    app.bob_grant(&w, &ap_bob, &[])
        .await
        .read()
        .await
        .assert_status(429);
}
both!(pw05_two_step_accounts_get_tokens_only_with_application_passwords);

async fn pw05_a_thousand_otp_guesses_are_cut_off_after_a_few(app: TestApp) {
    world(&app).await;
    app.enable_two_step(&app.bob_browser().await).await;
    let browser = new_browser();
    let form = app.password_step(&browser, "bob", BOB_PASSWORD).await;
    let mut refused = 0;
    for n in 0..1000 {
        let r = app
            .submit_otp(&browser, &form.body, &format!("{:06}", n * 997 % 1_000_000))
            .await;
        match r.status {
            401 => assert_eq!(refused, 0, "no 401 after the first 429"),
            429 => refused += 1,
            s => panic!("unexpected {s}"),
        }
        if refused >= 5 {
            break;
        }
    }
    assert_eq!(refused, 5);
    let checked = app
        .scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'two_step_failed'")
        .await;
    assert_eq!(
        checked,
        app.state.settings.limits.login_failures_per_account as i64
    );
}
both!(pw05_a_thousand_otp_guesses_are_cut_off_after_a_few);

async fn br11_the_old_session_cookie_is_dead_after_logout_and_after_a_password_change(
    app: TestApp,
) {
    let w = world(&app).await;
    // After logout.
    let cookie = app.login_by_hand().await;
    let raw = new_browser_without_cookies();
    let home = raw
        .get(app.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    raw.post(app.url("/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", input(&home.body, "csrf").unwrap())])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    let replay = raw
        .get(app.url(&format!(
            "/oauth2/authorize?{}",
            authz_query(w.c1.id, C1_REDIRECT, &[])
        )))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    assert!(replay.header("location").starts_with("/login?"));

    // After a password change made in another browser.
    let old = app.login_by_hand().await;
    let changer = app.alice_browser().await;
    let page = changer
        .get(app.url("/me/security"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let csrf = form_csrf(&page.body, "/me/security/password");
    let change = |current: &str, new: &str, confirm: &str| {
        changer
            .post(app.url("/me/security/password"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("current_password", current),
                ("new_password", new),
                ("confirm_password", confirm),
            ])
            .send()
    };
    // Mistakes are shown by their fields and change nothing.
    let bad = change("wrong", "short", "other")
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    for id in ["current-error", "new-error", "confirm-error"] {
        assert!(
            bad.body.contains(&format!("id=\"{id}\"")),
            "{id}: {}",
            bad.body
        );
    }
    raw.get(app.url("/me/security"))
        .header("cookie", &old)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let done = change(
        ALICE_PASSWORD,
        "a brand new passphrase",
        "a brand new passphrase",
    )
    .await
    .unwrap()
    .read()
    .await
    .assert_status(303);
    assert_eq!(done.header("location"), "/me/security?done=password");
    let replay = raw
        .get(app.url(&format!(
            "/oauth2/authorize?{}",
            authz_query(w.c1.id, C1_REDIRECT, &[])
        )))
        .header("cookie", &old)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    assert!(
        replay.header("location").starts_with("/login?"),
        "consent needs a fresh login"
    );
    raw.get(app.url("/me/security"))
        .header("cookie", &old)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    // The browser that changed it carries on with a new session.
    let after = changer
        .get(app.url("/me/security?done=password"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(after.body.contains("Your password was changed"));
    assert_eq!(app.count("sessions").await, 1);
    app.login_as(&new_browser(), "alice", ALICE_PASSWORD)
        .await
        .read()
        .await
        .assert_status(401);
    app.login_as(&new_browser(), "alice", "a brand new passphrase")
        .await
        .read()
        .await
        .assert_status(303);
}
both!(br11_the_old_session_cookie_is_dead_after_logout_and_after_a_password_change);

async fn br11_revoking_the_application_password_revokes_the_tokens_issued_with_it(app: TestApp) {
    let w = world(&app).await;
    let browser = app.bob_browser().await;
    let used = app.create_app_password(&browser, "laptop").await;
    let other = app.create_app_password(&browser, "server").await;
    let token = app
        .bob_grant(&w, &used, &[])
        .await
        .read()
        .await
        .assert_status(200)
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let kept = app
        .bob_grant(&w, &other, &[])
        .await
        .read()
        .await
        .assert_status(200)
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let main = app
        .bob_grant(&w, BOB_PASSWORD, &[])
        .await
        .read()
        .await
        .assert_status(200)
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.me(&token).await.read().await.assert_status(200);
    app.token_info(w.c3.id, &token)
        .await
        .read()
        .await
        .assert_status(200);
    let page = browser
        .get(app.url("/me/security/application-passwords"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let id = app
        .scalar("SELECT id FROM app_passwords WHERE name = 'laptop'")
        .await;
    browser
        .post(app.url(&format!("/me/security/application-passwords/{id}/revoke")))
        .form(&[(
            "csrf",
            form_csrf(&page.body, "/me/security/application-passwords"),
        )])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    app.me(&token).await.read().await.assert_status(401);
    app.token_info(w.c3.id, &token)
        .await
        .read()
        .await
        .assert_status(400);
    app.me(&kept).await.read().await.assert_status(200);
    app.me(&main).await.read().await.assert_status(200);
}
both!(br11_revoking_the_application_password_revokes_the_tokens_issued_with_it);

async fn pw08_tk03_application_passwords_recovery_codes_and_seeds_are_not_stored_in_clear(
    app: TestApp,
) {
    let w = world(&app).await;
    let browser = app.bob_browser().await;
    let ap = app.create_app_password(&browser, "ap-bob").await;
    let e = app.enable_two_step(&browser).await;
    app.bob_grant(&w, &ap, &[])
        .await
        .read()
        .await
        .assert_status(200);
    let hash = app.text("SELECT password_hash FROM app_passwords").await;
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "PW08: {hash}"
    );
    let seed_b32 = Secret::Raw(e.seed.clone()).to_encoded().to_string();
    let mut secrets = vec![ap.clone(), ap.replace(' ', ""), seed_b32];
    secrets.extend(e.recovery.iter().cloned());
    secrets.extend(e.recovery.iter().map(|c| c.replace('-', "")));
    for table in [
        "users",
        "app_passwords",
        "recovery_codes",
        "grants",
        "audit_events",
    ] {
        for row in row_bytes(&app, table).await {
            for s in &secrets {
                assert!(
                    !row.windows(s.len()).any(|w| w == s.as_bytes()),
                    "{s} found in {table}"
                );
            }
        }
    }
    // The seed is sealed: its raw bytes are not in the users row either.
    let sealed = app
        .scalar_bytes("SELECT totp_secret_enc FROM users WHERE username = 'bob'")
        .await;
    assert!(!sealed.windows(e.seed.len()).any(|w| w == e.seed));
    assert!(!app.database_contains(&ap.replace(' ', "")).await);
}
both!(pw08_tk03_application_passwords_recovery_codes_and_seeds_are_not_stored_in_clear);

async fn every_security_page_renders_and_asks_for_a_login_first(app: TestApp) {
    world(&app).await;
    let pages = [
        "/me/security",
        "/me/security/two-step",
        "/me/security/application-passwords",
    ];
    let anonymous = new_browser();
    for path in pages {
        let r = anonymous
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(303);
        let expected = format!("/login?redirect_to={}", path.replace('/', "%2F"));
        assert_eq!(r.header("location"), expected);
    }
    for path in [
        "/me/security/password",
        "/me/security/two-step/enable",
        "/me/security/two-step/disable",
        "/me/security/application-passwords",
        "/me/security/application-passwords/1/revoke",
    ] {
        anonymous
            .post(app.url(path))
            .form(&[("csrf", "x")])
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(303);
    }
    anonymous
        .get(app.url("/login/two-step"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    anonymous
        .post(app.url("/login/two-step"))
        .form(&[("otp", "123456")])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);

    let browser = app.bob_browser().await;
    for (path, heading) in [
        ("/me/security", "<h1>Security</h1>"),
        ("/me/security/two-step", "<h1>2-step authentication</h1>"),
        (
            "/me/security/application-passwords",
            "<h1>Application passwords</h1>",
        ),
    ] {
        let page = browser
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(200);
        assert!(page.body.contains(heading), "{path}");
        assert!(page.body.contains("name=\"csrf\""), "{path}");
        assert!(
            page.header("content-security-policy")
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(page.header("cache-control"), "no-store");
    }
    // Forms without their CSRF token or from another site are refused.
    for path in [
        "/me/security/password",
        "/me/security/two-step/enable",
        "/me/security/application-passwords",
        "/me/security/application-passwords/1/revoke",
    ] {
        browser
            .post(app.url(path))
            .form(&[("name", "x")])
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(403);
        browser
            .post(app.url(path))
            .header("origin", "https://evil.example")
            .form(&[("name", "x")])
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(403);
    }
    // The second step, after a reload, while the pending login lasts; the code form keeps
    // its own CSRF token.
    app.enable_two_step(&browser).await;
    let b = new_browser();
    let form = app.password_step(&b, "bob", BOB_PASSWORD).await;
    let again = b
        .get(app.url("/login/two-step"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(again.body.contains("name=\"otp\""));
    b.post(app.url("/login/two-step"))
        .form(&[("otp", "123456")])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(403);
    let empty = app.submit_otp(&b, &form.body, "").await;
    assert_eq!(empty.status, 400);
    let huge = app.submit_otp(&b, &form.body, &"1".repeat(5000)).await;
    assert_eq!(huge.status, 401);
    // The pending login expires.
    app.clock.advance(301);
    b.get(app.url("/login/two-step"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
}
both!(every_security_page_renders_and_asks_for_a_login_first);

async fn the_security_pages_carry_the_navigation_with_security_marked_current(app: TestApp) {
    world(&app).await;
    let browser = app.bob_browser().await;
    let current = "<a href=\"/me/security\" aria-current=\"page\">Security</a>";
    let mut pages = Vec::new();
    for path in [
        "/me/security",
        "/me/security/two-step",
        "/me/security/application-passwords",
    ] {
        let page = browser
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(200);
        pages.push((path, page.body));
    }
    let enrolled = app.enable_two_step(&browser).await;
    pages.push(("the recovery codes", enrolled.codes_page));
    for (what, body) in &pages {
        assert!(
            body.contains(current),
            "{what}: Security is the current entry: {body}"
        );
        assert_eq!(
            body.matches("aria-current=").count(),
            1,
            "{what}: one current entry"
        );
        assert!(
            body.contains("href=\"/apps\"") && body.contains("href=\"/playground\""),
            "{what}: the other entries"
        );
        assert!(
            body.contains("action=\"/logout\"") && body.contains("title=\"Log out bob\""),
            "{what}: the log-out button"
        );
    }
}
both!(the_security_pages_carry_the_navigation_with_security_marked_current);
