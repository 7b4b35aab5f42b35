//! `serve --demo`: seeds (idempotently) a demo user, a demo site and a demo app whose redirect URI
//! is this server's own playground, and says how to try them.
//!
//! The demo app's client secret is reset on every start and kept in memory for the playground
//! ([`state::PlaygroundClient`](crate::state::PlaygroundClient)); it is never printed or logged.
//! Whoever wants a secret of their own logs in as the demo user and resets it on the app's page
//! (the playground then resets it again when it needs it).

use crate::admin::{self, AdminError, AppInput, UserInput};
use crate::domain::app::AppType;
use crate::state::AppState;

pub const DEMO_USERNAME: &str = "demo";
pub const DEMO_PASSWORD: &str = "latchkey-demo";
const DEMO_SITE_URL: &str = "https://demo-blog.example";
pub const DEMO_APP_NAME: &str = "Latchkey Playground";

/// The demo app, if this database was seeded with `serve --demo`.
pub async fn demo_app(state: &AppState) -> Result<Option<crate::store::App>, AdminError> {
    let Some(user) = state.store.user_by_login(DEMO_USERNAME).await? else {
        return Ok(None);
    };
    Ok(state
        .store
        .list_apps(Some(user.id))
        .await?
        .into_iter()
        .find(|a| a.name == DEMO_APP_NAME))
}

/// The demo app's client secret for the playground: the one kept in memory, or a fresh one (the
/// secret is reset, which is how a second instance or a restart without `--demo` gets one).
pub async fn demo_secret(state: &AppState, app: &crate::store::App) -> Result<String, AdminError> {
    if let Some(secret) = state.playground.secret_for(app.id) {
        return Ok(secret);
    }
    let mut tx = state.store.begin();
    let secret = admin::reset_secret(&mut tx, &*state.random, app).await?;
    tx.commit().await?;
    state.playground.remember(app.id, secret.clone());
    Ok(secret)
}

/// Seeds the demo data and returns the text to print. The demo app's secret is reset on every
/// start, since a secret is only ever shown when it is issued.
pub async fn seed(state: &AppState) -> Result<String, AdminError> {
    let store = &state.store;
    let now = state.now();
    let random = &*state.random;
    let user = match store.user_by_login(DEMO_USERNAME).await? {
        Some(user) => user,
        None => {
            let input = UserInput {
                username: DEMO_USERNAME,
                email: "demo@example.com",
                password: DEMO_PASSWORD,
                display_name: Some("Demo User"),
            };
            let mut tx = store.begin();
            let user = admin::create_user(&mut tx, random, &input, now).await?;
            tx.commit().await?;
            user
        }
    };
    let site = match admin::find_site(store, DEMO_SITE_URL).await {
        Ok(site) => site,
        Err(AdminError::NotFound(_)) => {
            let mut tx = store.begin();
            let site =
                admin::create_site(&mut tx, &user, DEMO_SITE_URL, "Demo Blog", false, now).await?;
            tx.commit().await?;
            site
        }
        Err(e) => return Err(e),
    };
    let base = state.settings.base_url();
    let redirect = format!("{base}/playground/callback");
    let existing = store
        .list_apps(Some(user.id))
        .await?
        .into_iter()
        .find(|a| a.name == DEMO_APP_NAME);
    let mut tx = store.begin();
    let (app, secret) = match existing {
        Some(app) => {
            let secret = admin::reset_secret(&mut tx, random, &app).await?;
            (app, secret)
        }
        None => {
            let input = AppInput {
                name: DEMO_APP_NAME,
                description: "The built-in demo client: try every flow against this server.",
                website: base,
                icon_url: "",
                app_type: AppType::Web,
                redirect_uris: std::slice::from_ref(&redirect),
                js_origins: &[],
                allow_implicit: true,
                oauth1_callback: Some(&format!("{base}/playground/oauth1/callback")),
            };
            let created =
                admin::create_app(&mut tx, random, &state.key.0, &user, &input, base, now).await?;
            (created.app, created.client_secret)
        }
    };
    tx.commit().await?;
    state.playground.remember(app.id, secret);
    Ok(format!(
        "Demo data ready.\n  user:       {DEMO_USERNAME} / {DEMO_PASSWORD}\n  site:       {} (blog_id {})\n  \
         app:        {} (client_id {}; its secret stays in the server for the playground)\n  \
         redirect:   {redirect}\n  playground: {base}/playground  <- start here\n  \
         sign-up:    {base}/signup\n  \
         authorize:  {base}/oauth2/authorize?client_id={}&response_type=code&redirect_uri={}\n",
        site.url,
        site.id,
        app.name,
        app.id,
        app.id,
        form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>(),
    ))
}
