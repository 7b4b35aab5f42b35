//! The account password (oauth2.md §2 "Login", §7): argon2id off the async runtime, a dummy
//! verification for unknown accounts, and the login failure budgets (`budget`) that the web login,
//! the password change, the 2-step code and the password grant all spend, with the audit events
//! each failure and each lockout leaves.

use std::net::IpAddr;

use super::Auth;
use crate::domain::password;
use crate::store::{AuditEvent, StoreError, User};

/// The outcome of a login with the account password.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Right, and the account has 2-step authentication off: the login is complete.
    Accepted(User),
    /// Right, but the account has 2-step authentication on: the budget is kept until the code is
    /// through, so knowing the password does not buy fresh guesses at the code.
    NeedsSecondFactor(User),
    /// Wrong login or password (indistinguishable); a failure was counted.
    Refused,
    /// Over the failure budget: nothing was checked.
    Throttled { retry_after: i64 },
}

/// What a counted failure was, as its audit event kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// A wrong login or password.
    Password,
    /// A wrong or replayed 2-step code.
    SecondFactor,
    /// A right password on the password grant for an account with 2-step authentication on.
    NeedsSecondFactor,
}

impl Failure {
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Failure::Password => "login_failed",
            Failure::SecondFactor => "two_step_failed",
            Failure::NeedsSecondFactor => "needs_2fa",
        }
    }
}

/// `Some(retry_after)` when the account's or the address's failure budget is spent.
pub(crate) fn over_budget(auth: &Auth<'_>, login: &str, peer: IpAddr) -> Option<i64> {
    auth.budgets().login_over(login, peer, auth.now())
}

/// Spends one failure of the account's and the address's budgets and audits it; when it spends the
/// account's budget, the lockout is an event of its own.
pub(super) async fn count_failure(
    auth: &Auth<'_>,
    login: &str,
    peer: IpAddr,
    user_id: Option<i64>,
    failure: Failure,
) -> Result<(), StoreError> {
    let now = auth.now();
    let locked = auth.budgets().login_spend(login, peer, now);
    let event = AuditEvent {
        kind: failure.kind(),
        user_id,
        peer: Some(peer.to_string()),
        ..Default::default()
    };
    // The failure and the lockout it caused are one transaction: neither is written without the other.
    let mut tx = auth.store.begin();
    tx.audit(&event, now).await?;
    let Some(retry_after) = locked else {
        return tx.commit().await;
    };
    // Never the typed login: people type passwords into the wrong field.
    let detail = format!("the account is locked for {retry_after} s");
    let event = AuditEvent {
        kind: "lockout",
        user_id,
        peer: Some(peer.to_string()),
        detail: &detail,
        ..Default::default()
    };
    tx.audit(&event, now).await?;
    tx.commit().await
}

/// Forgets the account's failures after a complete login.
pub(super) fn clear_failures(auth: &Auth<'_>, login: &str) {
    auth.budgets().login_clear(login);
}

/// Looks the account up and verifies its password (against a dummy hash for unknown accounts, so
/// the time taken does not tell which exist), rehashing an outdated hash on success. No budget is
/// checked or spent here.
pub(super) async fn verify(
    auth: &Auth<'_>,
    login: &str,
    pw: &str,
) -> Result<(Option<User>, bool), StoreError> {
    let user = if pw.len() > password::MAX_PASSWORD_BYTES || login.len() > 200 {
        None
    } else {
        auth.store.user_by_login(login).await?
    };
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    let candidate = pw.to_owned();
    let ok = crate::blocking::run(move || password::verify(&candidate, &hash))
        .await
        .unwrap_or(false);
    if let Some(user) = user.as_ref().filter(|_| ok)
        && password::needs_rehash(&user.password_hash)
    {
        let salt = crate::domain::random::bytes::<16>(auth.random);
        let candidate = pw.to_owned();
        if let Ok(new_hash) = crate::blocking::run(move || password::hash(&candidate, salt)).await {
            let mut tx = auth.store.begin();
            tx.update_password_hash(user.id, &new_hash).await?;
            tx.commit().await?;
        }
    }
    Ok((user, ok))
}

/// Checks a username-or-email and password against the account and the failure budgets.
pub(crate) async fn login(
    auth: &Auth<'_>,
    login: &str,
    pw: &str,
    peer: IpAddr,
) -> Result<Verdict, StoreError> {
    if let Some(retry_after) = over_budget(auth, login, peer) {
        return Ok(Verdict::Throttled { retry_after });
    }
    match verify(auth, login, pw).await? {
        (Some(user), true) => {
            if auth.store.two_step(user.id).await?.enabled() {
                return Ok(Verdict::NeedsSecondFactor(user));
            }
            clear_failures(auth, login);
            Ok(Verdict::Accepted(user))
        }
        (user, _) => {
            let user_id = user.map(|u| u.id);
            count_failure(auth, login, peer, user_id, Failure::Password).await?;
            Ok(Verdict::Refused)
        }
    }
}

/// Confirms the signed-in user's current password (the password change form): a wrong one spends
/// the login budgets like a failed login. The caller checks [`over_budget`] first.
pub(crate) async fn confirm(
    auth: &Auth<'_>,
    user: &User,
    pw: &str,
    peer: IpAddr,
) -> Result<bool, StoreError> {
    let (_, ok) = verify(auth, &user.username, pw).await?;
    if !ok {
        count_failure(auth, &user.username, peer, Some(user.id), Failure::Password).await?;
    }
    Ok(ok)
}
