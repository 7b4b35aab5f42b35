//! Credential checks and failure budgets: the account password (`password`), the second factor
//! (`two_step`), application passwords (`app_passwords`), and the failure counters they and the
//! protocol endpoints spend (`budget`, `throttle`).
//!
//! Who may use it: the adapters above it. Today the pages (`web`: login, second step, 2-step
//! settings, password change, sign-up) and the OAuth2 endpoints (`oauth2`: the password grant,
//! client authentication, token-info) call these services and map their typed outcomes to their
//! own dialect (a page, an OAuth2 error); `oauth1` and `api` may do the same.
//!
//! `auth` depends only downward, on `store`, `domain` and `config` (and `blocking` for argon2id):
//! never on `web`, `oauth2`, `oauth1`, `api` or `state`, and no HTTP type (axum, askama, cookies)
//! appears here. `AppState::auth` lends it what it needs as an [`Auth`]; the client address comes
//! as a plain `IpAddr`.

pub(crate) mod app_passwords;
pub(crate) mod budget;
pub(crate) mod password;
pub(crate) mod throttle;
pub(crate) mod two_step;

use crate::config::{LimitsConfig, SecretKey};
use crate::domain::clock::Clock;
use crate::domain::random::Random;
use crate::store::Store;

pub(crate) use throttle::Throttle;

/// What the credential services use, borrowed from the application state for one call.
#[derive(Clone, Copy)]
pub struct Auth<'a> {
    pub store: &'a Store,
    pub limits: &'a LimitsConfig,
    pub clock: &'a dyn Clock,
    pub random: &'a dyn Random,
    pub key: &'a SecretKey,
    pub throttle: &'a Throttle,
}

impl<'a> Auth<'a> {
    /// The injected clock's time, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The failure budgets of this instance.
    pub fn budgets(&self) -> budget::Budgets<'a> {
        budget::Budgets::new(self.throttle, self.limits)
    }
}
