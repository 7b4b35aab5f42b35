//! `serve --demo`: seeds (idempotently) a demo user, a demo site and a demo app whose redirect URI
//! is this server's own playground, and says how to try them.

use crate::admin::{self, AdminError, AppInput, UserInput};
use crate::domain::app::AppType;
use crate::state::AppState;

pub const DEMO_USERNAME: &str = "demo";
pub const DEMO_PASSWORD: &str = "latchkey-demo";
const DEMO_SITE_URL: &str = "https://demo-blog.example";
const DEMO_APP_NAME: &str = "Latchkey Playground";

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
            admin::create_user(store, random, &input, now).await?
        }
    };
    let site = match admin::find_site(store, DEMO_SITE_URL).await {
        Ok(site) => site,
        Err(AdminError::NotFound(_)) => {
            admin::create_site(store, &user, DEMO_SITE_URL, "Demo Blog", false, now).await?
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
    let (app, secret) = match existing {
        Some(app) => {
            let secret = admin::reset_secret(store, random, &app).await?;
            (app, secret)
        }
        None => {
            let input = AppInput {
                name: DEMO_APP_NAME,
                description: "The built-in demo client: try every flow against this server.",
                website: &base,
                icon_url: "",
                app_type: AppType::Web,
                redirect_uris: std::slice::from_ref(&redirect),
                js_origins: &[],
                allow_implicit: true,
                oauth1_callback: Some(&format!("{base}/playground/oauth1/callback")),
            };
            let created =
                admin::create_app(store, random, &state.key.0, &user, &input, &base, now).await?;
            (created.app, created.client_secret)
        }
    };
    Ok(format!(
        "Demo data ready.\n  user:      {DEMO_USERNAME} / {DEMO_PASSWORD}\n  site:      {} (blog_id {})\n  \
         app:       {} (client_id {}, client_secret {secret})\n  redirect:  {redirect}\n  \
         start at:  {base}/oauth2/authorize?client_id={}&response_type=code&redirect_uri={}\n",
        site.url,
        site.id,
        app.name,
        app.id,
        app.id,
        form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>(),
    ))
}
