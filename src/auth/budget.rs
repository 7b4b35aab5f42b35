//! The login failure budgets (oauth2.md §7, security.md PW01/PW02): one per account (the login as
//! typed, lowercased) and one per client address, in the same window. Wrong passwords, wrong
//! 2-step codes and `needs_2fa` answers all spend both; over either, no credential is checked.

use std::net::IpAddr;

use super::throttle::Throttle;
use crate::config::LimitsConfig;

/// The two budgets a login attempt spends, over the instance's throttle.
pub struct LoginBudget<'a> {
    throttle: &'a Throttle,
    limits: &'a LimitsConfig,
}

/// The throttle key of an account: the login as typed, lowercased.
fn account_key(login: &str) -> String {
    format!("login:account:{}", login.to_lowercase())
}

fn peer_key(peer: IpAddr) -> String {
    format!("login:peer:{peer}")
}

impl<'a> LoginBudget<'a> {
    pub fn new(throttle: &'a Throttle, limits: &'a LimitsConfig) -> Self {
        Self { throttle, limits }
    }

    /// `Some(retry_after)` when the account's or the address's budget is spent.
    pub fn over(&self, login: &str, peer: IpAddr, now: i64) -> Option<i64> {
        self.account_spent(login, now).or_else(|| {
            self.throttle.check(
                &peer_key(peer),
                self.limits.login_failures_per_ip,
                self.limits.window_secs,
                now,
            )
        })
    }

    /// Spends one failure of both budgets. `Some(retry_after)` when the account's budget is now
    /// spent: the account is locked for the rest of the window.
    pub fn spend(&self, login: &str, peer: IpAddr, now: i64) -> Option<i64> {
        let window = self.limits.window_secs;
        self.throttle.fail(&account_key(login), window, now);
        self.throttle.fail(&peer_key(peer), window, now);
        self.account_spent(login, now)
    }

    /// Forgets the account's failures (after a complete login); the address keeps its count.
    pub fn clear(&self, login: &str) {
        self.throttle.clear(&account_key(login));
    }

    fn account_spent(&self, login: &str, now: i64) -> Option<i64> {
        self.throttle.check(
            &account_key(login),
            self.limits.login_failures_per_account,
            self.limits.window_secs,
            now,
        )
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
            ..LimitsConfig::default()
        }
    }

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const CAFE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    #[test]
    fn pw01_the_failure_that_spends_the_account_budget_locks_it_for_the_rest_of_the_window() {
        let (throttle, limits) = (Throttle::default(), limits());
        let budget = LoginBudget::new(&throttle, &limits);
        assert_eq!(budget.spend("alice", HOME, 1_000), None);
        assert_eq!(budget.spend("alice", CAFE, 1_100), None);
        assert_eq!(budget.over("alice", HOME, 1_100), None);
        // The third failure, from anywhere, locks the account until the window of the first ends.
        assert_eq!(budget.spend("alice", CAFE, 1_200), Some(700));
        assert_eq!(budget.over("alice", HOME, 1_200), Some(700));
        assert_eq!(budget.over("alice", HOME, 1_899), Some(1));
        assert_eq!(budget.over("alice", HOME, 1_900), None);
    }

    #[test]
    fn pw01_the_account_budget_is_the_login_as_typed_whatever_its_case() {
        let (throttle, limits) = (Throttle::default(), limits());
        let budget = LoginBudget::new(&throttle, &limits);
        for login in ["alice", "Alice", "ALICE"] {
            budget.spend(login, HOME, 0);
        }
        assert_eq!(budget.over("aLiCe", CAFE, 0), Some(900));
        assert_eq!(budget.over("bob", CAFE, 0), None);
    }

    #[test]
    fn pw02_the_address_budget_is_spent_by_failures_on_any_account() {
        let (throttle, limits) = (Throttle::default(), limits());
        let budget = LoginBudget::new(&throttle, &limits);
        for (i, login) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            assert_eq!(budget.over(login, HOME, 10), None, "failure {i}");
            assert_eq!(budget.spend(login, HOME, 10), None, "failure {i}");
        }
        assert_eq!(budget.over("f", HOME, 10), Some(900));
        assert_eq!(budget.over("f", CAFE, 10), None);
    }

    #[test]
    fn a_complete_login_clears_the_account_budget_but_not_the_address_budget() {
        let (throttle, limits) = (Throttle::default(), limits());
        let budget = LoginBudget::new(&throttle, &limits);
        for login in ["x", "y", "z", "alice", "alice"] {
            budget.spend(login, HOME, 0);
        }
        budget.clear("ALICE");
        assert_eq!(budget.over("alice", CAFE, 0), None);
        assert_eq!(budget.over("alice", HOME, 0), Some(900));
    }
}
