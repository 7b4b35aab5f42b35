//! Interoperability of the OAuth 2.1 / OpenID Connect server with clients nobody here wrote:
//! Authlib drives discovery, the code flow with PKCE, refresh, introspection and revocation, and
//! PyJWT verifies the ID tokens against the JWKS, before and after `latchkey keys rotate`
//! (`tests/oauth21_interop.py`; oauth21.md §7).

use std::process::Command;

use crate::both;
use crate::flows::*;
use crate::harness::*;

/// Runs the Python script against the app; `old_id_token` asks it to verify an earlier ID token
/// too. Returns the ID token and key id it printed.
async fn run_script(app: &TestApp, w: &World, old_id_token: Option<&str>) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oauth21_interop.py");
    let mut command = Command::new("python3");
    command
        .arg(script)
        .env("LATCHKEY_URL", &app.base)
        .env("CLIENT_ID", w.c1.id.to_string())
        .env("CLIENT_SECRET", &w.s1)
        .env("REDIRECT_URI", C1_REDIRECT)
        .env("USERNAME", &w.alice.username)
        .env("PASSWORD", ALICE_PASSWORD);
    if let Some(token) = old_id_token {
        command.env("OLD_ID_TOKEN", token);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "interop script failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

async fn authlib_and_pyjwt_complete_the_code_flow_refresh_and_a_key_rotation(app: TestApp) {
    let importable = Command::new("python3")
        .args(["-c", "import authlib, jwt, requests"])
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        eprintln!(
            "note: python3 with authlib and pyjwt is missing: the OAuth 2.1 interoperability test \
             was skipped (pip install authlib 'pyjwt[crypto]' requests); .ci/run installs them"
        );
        return;
    }
    let w = world(&app).await;
    // The Python clients check `exp` and `iat` against the real time (`iat` may be in the past,
    // never in the future). The first run is two signer-cache lifetimes back, so the second, on
    // real time, signs with the rotated key (`oidc::keys::SIGNER_TTL_SECS`).
    let ttl = latchkey::oidc::keys::SIGNER_TTL_SECS;
    app.clock.set(crate::oidc::real_now() - 2 * ttl);
    let first = run_script(&app, &w, None).await;
    let rotated = crate::oidc::latchkey(&app, &["keys", "rotate"]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    app.clock.set(crate::oidc::real_now());
    let second = run_script(&app, &w, first["id_token"].as_str()).await;
    assert_ne!(first["kid"], second["kid"]);
}
both!(authlib_and_pyjwt_complete_the_code_flow_refresh_and_a_key_rotation);
