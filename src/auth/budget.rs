//! Failure budgets (oauth2.md §7, security.md D4): each counts failures under a throttle key in a
//! fixed window; over budget, the request is refused before any credential is checked.
//!
//! - Login (PW01, PW02): one budget per account (the login as typed, lowercased) and one per client
//!   address. Wrong passwords, wrong 2-step codes and `needs_2fa` answers all spend both.
//! - Client authentication and guessed codes (CL07, AC06): per client id and per address.
//! - Token-info (TK02): per address, spent by unknown tokens.
//! - Sign-up: per address, spent by each account created.
//! - Client registration (oauth21.md §5): per address, spent by each client registered.

use std::net::IpAddr;

use super::throttle::Throttle;
use crate::config::LimitsConfig;

/// The budgets of this instance, over its throttle.
pub struct Budgets<'a> {
    throttle: &'a Throttle,
    limits: &'a LimitsConfig,
}

/// One budget: at most `limit` failures under `key` in a window.
struct Budget {
    key: String,
    limit: u32,
}

/// The throttle key of an account: the login as typed, lowercased.
fn account_key(login: &str) -> String {
    format!("login:account:{}", login.to_lowercase())
}

impl<'a> Budgets<'a> {
    pub fn new(throttle: &'a Throttle, limits: &'a LimitsConfig) -> Self {
        Self { throttle, limits }
    }

    /// `Some(retry_after)` from the first of `budgets` that is spent.
    fn over(&self, budgets: &[Budget], now: i64) -> Option<i64> {
        let window = self.limits.window_secs;
        budgets
            .iter()
            .find_map(|b| self.throttle.check(&b.key, b.limit, window, now))
    }

    fn spend(&self, budgets: &[Budget], now: i64) {
        for b in budgets {
            self.throttle.fail(&b.key, self.limits.window_secs, now);
        }
    }

    fn login(&self, login: &str, peer: IpAddr) -> [Budget; 2] {
        [
            Budget {
                key: account_key(login),
                limit: self.limits.login_failures_per_account,
            },
            Budget {
                key: format!("login:peer:{peer}"),
                limit: self.limits.login_failures_per_ip,
            },
        ]
    }

    fn client(&self, client_id: &str, peer: IpAddr) -> [Budget; 2] {
        [
            Budget {
                key: format!("client:{client_id}"),
                limit: self.limits.client_failures_per_client,
            },
            Budget {
                key: format!("client-ip:{peer}"),
                limit: self.limits.client_failures_per_ip,
            },
        ]
    }

    fn token_info(&self, peer: IpAddr) -> [Budget; 1] {
        [Budget {
            key: format!("token-info:{peer}"),
            limit: self.limits.token_info_failures_per_ip,
        }]
    }

    fn signup(&self, peer: IpAddr) -> [Budget; 1] {
        [Budget {
            key: format!("signup:peer:{peer}"),
            limit: self.limits.login_failures_per_ip,
        }]
    }

    /// `Some(retry_after)` when the account's or the address's login budget is spent.
    pub fn login_over(&self, login: &str, peer: IpAddr, now: i64) -> Option<i64> {
        self.over(&self.login(login, peer), now)
    }

    /// Spends one failure of both login budgets. `Some(retry_after)` when the account's budget is
    /// now spent: the account is locked for the rest of the window.
    pub fn login_spend(&self, login: &str, peer: IpAddr, now: i64) -> Option<i64> {
        let budgets = self.login(login, peer);
        self.spend(&budgets, now);
        // The first is the account's.
        self.over(&budgets[..1], now)
    }

    /// Forgets the account's failures (after a complete login); the address keeps its count.
    pub fn login_clear(&self, login: &str) {
        self.throttle.clear(&account_key(login));
    }

    /// `Some(retry_after)` when the client's or the address's client-authentication budget is
    /// spent.
    pub fn client_over(&self, client_id: &str, peer: IpAddr, now: i64) -> Option<i64> {
        self.over(&self.client(client_id, peer), now)
    }

    /// Spends one failure of the client's and the address's budgets: bad client credentials, and
    /// guessed codes.
    pub fn client_spend(&self, client_id: &str, peer: IpAddr, now: i64) {
        self.spend(&self.client(client_id, peer), now);
    }

    /// `Some(retry_after)` when the address's token-info budget is spent.
    pub fn token_info_over(&self, peer: IpAddr, now: i64) -> Option<i64> {
        self.over(&self.token_info(peer), now)
    }

    /// Spends one failure of the address's token-info budget (an unknown or foreign token).
    pub fn token_info_spend(&self, peer: IpAddr, now: i64) {
        self.spend(&self.token_info(peer), now);
    }

    /// `Some(retry_after)` when the address has created its share of accounts in this window.
    pub fn signup_over(&self, peer: IpAddr, now: i64) -> Option<i64> {
        self.over(&self.signup(peer), now)
    }

    /// Counts one account created from the address.
    pub fn signup_spend(&self, peer: IpAddr, now: i64) {
        self.spend(&self.signup(peer), now);
    }

    /// One budget per address for self-registered clients (oauth21.md §5): `limit` is
    /// `oauth21.registrations_per_ip`.
    fn registration(peer: IpAddr, limit: u32) -> [Budget; 1] {
        [Budget {
            key: format!("registration:peer:{peer}"),
            limit,
        }]
    }

    /// `Some(retry_after)` when the address has registered `limit` clients in this window.
    pub fn registration_over(&self, peer: IpAddr, limit: u32, now: i64) -> Option<i64> {
        self.over(&Self::registration(peer, limit), now)
    }

    /// Counts one client registered from the address.
    pub fn registration_spend(&self, peer: IpAddr, now: i64) {
        self.spend(&Self::registration(peer, 0), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LimitsConfig {
        LimitsConfig {
            window_secs: 900,
            login_failures_per_account: 3,
            login_failures_per_ip: 5,
            client_failures_per_client: 2,
            client_failures_per_ip: 4,
            token_info_failures_per_ip: 1,
            ..LimitsConfig::default()
        }
    }

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const CAFE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    #[test]
    fn pw01_the_failure_that_spends_the_account_budget_locks_it_for_the_rest_of_the_window() {
        let (throttle, limits) = (Throttle::default(), limits());
        let budget = Budgets::new(&throttle, &limits);
        assert_eq!(budget.login_spend("alice", HOME, 1_000), None);
        assert_eq!(budget.login_spend("alice", CAFE, 1_100), None);
        assert_eq!(budget.login_over("alice", HOME, 1_100), None);
        // The third failure, from anywhere, locks the account until the window of the first ends.
        assert_eq!(budget.login_spend("alice", CAFE, 1_200), Some(700));
        assert_eq!(budget.login_over("alice", HOME, 1_200), Some(700));
        assert_eq!(budget.login_over("alice", HOME, 1_899), Some(1));
        assert_eq!(budget.login_over("alice", HOME, 1_900), None);
    }

    #[test]
    fn pw01_the_account_budget_is_the_login_as_typed_whatever_its_case() {
        let (throttle, limits) = (Throttle::default(), limits());
        let budget = Budgets::new(&throttle, &limits);
        for login in ["alice", "Alice", "ALICE"] {
            budget.login_spend(login, HOME, 0);
        }
        assert_eq!(budget.login_over("aLiCe", CAFE, 0), Some(900));
        assert_eq!(budget.login_over("bob", CAFE, 0), None);
    }

    #[test]
    fn pw02_the_address_budget_is_spent_by_failures_on_any_account() {
        let (throttle, limits) = (Throttle::default(), limits());
        let budget = Budgets::new(&throttle, &limits);
        for (i, login) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            assert_eq!(budget.login_over(login, HOME, 10), None, "failure {i}");
            assert_eq!(budget.login_spend(login, HOME, 10), None, "failure {i}");
        }
        assert_eq!(budget.login_over("f", HOME, 10), Some(900));
        assert_eq!(budget.login_over("f", CAFE, 10), None);
    }

    #[test]
    fn a_complete_login_clears_the_account_budget_but_not_the_address_budget() {
        let (throttle, limits) = (Throttle::default(), limits());
        let budget = Budgets::new(&throttle, &limits);
        for login in ["x", "y", "z", "alice", "alice"] {
            budget.login_spend(login, HOME, 0);
        }
        budget.login_clear("ALICE");
        assert_eq!(budget.login_over("alice", CAFE, 0), None);
        assert_eq!(budget.login_over("alice", HOME, 0), Some(900));
    }

    #[test]
    fn cl07_client_failures_spend_the_client_and_the_address_budgets() {
        let (throttle, limits) = (Throttle::default(), limits());
        let budget = Budgets::new(&throttle, &limits);
        budget.client_spend("7", HOME, 0);
        assert_eq!(budget.client_over("7", CAFE, 0), None);
        budget.client_spend("7", CAFE, 0);
        assert_eq!(budget.client_over("7", CAFE, 0), Some(900));
        budget.client_spend("8", HOME, 0);
        budget.client_spend("9", HOME, 0);
        budget.client_spend("10", HOME, 0);
        assert_eq!(budget.client_over("11", HOME, 0), Some(900));
        assert_eq!(budget.client_over("11", CAFE, 0), None);
    }

    #[test]
    fn each_kind_of_failure_spends_only_its_own_budgets() {
        let (throttle, limits) = (Throttle::default(), limits());
        let budget = Budgets::new(&throttle, &limits);
        for _ in 0..5 {
            budget.login_spend("alice", HOME, 0);
            budget.client_spend("alice", HOME, 0);
        }
        assert_eq!(budget.token_info_over(HOME, 0), None);
        assert_eq!(budget.signup_over(HOME, 0), None);
        budget.token_info_spend(HOME, 0);
        assert_eq!(budget.token_info_over(HOME, 0), Some(900));
        assert_eq!(budget.signup_over(HOME, 0), None);
        for _ in 0..5 {
            budget.signup_spend(HOME, 0);
        }
        assert_eq!(budget.signup_over(HOME, 0), Some(900));
        assert_eq!(budget.login_over("bob", CAFE, 0), None);
    }
}
