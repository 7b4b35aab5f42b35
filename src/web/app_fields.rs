//! The fields of the app form (`apps`): what the owner typed, kept as typed to show it again with
//! an error, and parsed into what `admin` checks. The grants of `/oauth2-1/token` are a group of
//! checkboxes named `grant_type`, checked by `admin::grant_types` as `latchkey app create
//! --grant-type` is: an unknown value (a doctored form) and an empty choice are field errors.
//! An unticked checkbox sends nothing, so the form also sends `grant_types_shown`: without it (a
//! form posted by a script written before the grants were on it) the app's grants stay as they
//! are, or are the default for a new app, instead of reading as "none".

use super::page::{self, FieldError, Form};
use crate::admin::{self, AppInput};
use crate::domain::app::AppType;
use crate::domain::client_metadata::GrantType;
use crate::store::App;

/// What the app form shows: the user's input, kept as typed.
#[derive(Debug, Clone)]
pub(crate) struct AppFields {
    pub name: String,
    pub description: String,
    pub website: String,
    pub icon_url: String,
    pub app_type: String,
    pub redirect_uris: String,
    pub js_origins: String,
    pub allow_implicit: bool,
    pub oauth1_callback: String,
    /// The ticked grants of `/oauth2-1/token`, as posted (checked by `admin::grant_types`).
    pub grant_types: Vec<String>,
}

impl Default for AppFields {
    fn default() -> Self {
        AppFields {
            name: String::new(),
            description: String::new(),
            website: String::new(),
            icon_url: String::new(),
            app_type: "web".into(),
            redirect_uris: String::new(),
            js_origins: String::new(),
            allow_implicit: true,
            oauth1_callback: String::new(),
            // Migration 0012's default, as for `latchkey app create` without `--grant-type`.
            grant_types: vec![GrantType::AuthorizationCode.to_string()],
        }
    }
}

impl AppFields {
    /// The posted form; `current` is the app being edited (`None` for a new one).
    pub(super) fn from_form(form: &Form, current: Option<&App>) -> Self {
        let grant_types = match (form.checked("grant_types_shown"), current) {
            (true, _) => form
                .all("grant_type")
                .into_iter()
                .map(str::to_owned)
                .collect(),
            (false, Some(app)) => Self::from_app(app).grant_types,
            (false, None) => Self::default().grant_types,
        };
        AppFields {
            name: form.get("name").to_owned(),
            description: form.get("description").to_owned(),
            website: form.get("website").trim().to_owned(),
            icon_url: form.get("icon_url").trim().to_owned(),
            app_type: form.get("app_type").to_owned(),
            redirect_uris: form.get("redirect_uris").to_owned(),
            js_origins: form.get("js_origins").to_owned(),
            allow_implicit: form.checked("allow_implicit"),
            oauth1_callback: form.get("oauth1_callback").trim().to_owned(),
            grant_types,
        }
    }

    pub(super) fn from_app(app: &App) -> Self {
        AppFields {
            name: app.name.clone(),
            description: app.description.clone(),
            website: app.website.clone(),
            icon_url: app.icon_url.clone(),
            app_type: app.app_type.to_string(),
            redirect_uris: app.redirect_uris.clone(),
            js_origins: app.js_origins.clone(),
            allow_implicit: app.allow_implicit,
            oauth1_callback: app.oauth1_callback.clone().unwrap_or_default(),
            grant_types: app
                .grant_type_list()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    /// Whether the form shows `grant` ticked.
    pub(crate) fn has_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// The parts of the input that need parsing before `admin` sees them.
    pub(super) fn parse(&self) -> Result<Parsed, FieldError> {
        let app_type = self
            .app_type
            .parse::<AppType>()
            .map_err(|_| FieldError::new("type", "Choose Web or Native."))?;
        let grant_types =
            admin::grant_types(self.grant_types.iter().map(String::as_str)).map_err(|e| {
                match FieldError::from_admin(e) {
                    Ok(field) => field,
                    // `grant_types` writes nothing: only field errors.
                    Err(_) => FieldError::new("grant-type", "Choose the grant types again."),
                }
            })?;
        Ok(Parsed {
            app_type,
            grant_types,
            redirect_uris: page::lines(&self.redirect_uris),
            js_origins: page::lines(&self.js_origins),
        })
    }

    pub(super) fn input<'a>(&'a self, parsed: &'a Parsed) -> AppInput<'a> {
        AppInput {
            name: &self.name,
            description: &self.description,
            website: &self.website,
            icon_url: &self.icon_url,
            app_type: parsed.app_type,
            redirect_uris: &parsed.redirect_uris,
            js_origins: &parsed.js_origins,
            allow_implicit: self.allow_implicit,
            oauth1_callback: (!self.oauth1_callback.is_empty())
                .then_some(self.oauth1_callback.as_str()),
        }
    }
}

pub(super) struct Parsed {
    pub app_type: AppType,
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub js_origins: Vec<String>,
}
