//! Application passwords as a credential (oauth2.md §4 and §7, security.md PW05, PW08): matching
//! one, and the password grant's check, the only place they are accepted. At rest each is an
//! argon2id PHC string plus its first four characters, so a check verifies one hash rather than
//! all of a user's.

use std::net::IpAddr;

use super::Auth;
use super::password::{self, Failure};
use crate::domain::password as hashing;
use crate::domain::two_step as rules;
use crate::store::{StoreError, User};

/// The outcome of the password grant's credential check.
#[derive(Debug)]
pub(crate) enum GrantVerdict {
    /// The user, and the application password used (`None`: the account password).
    Accepted {
        user: User,
        app_password: Option<i64>,
    },
    /// Wrong login or password; a failure was counted.
    Refused,
    /// The account password was right but the account has 2-step authentication on; a failure was
    /// counted, since this answer tells that the password was right.
    NeedsSecondFactor,
    /// Over the failure budget: nothing was checked.
    Throttled { retry_after: i64 },
}

/// The id of the user's application password that `typed` is, if any.
async fn find(auth: &Auth<'_>, user: &User, typed: &str) -> Result<Option<i64>, StoreError> {
    let Some(normalised) = rules::normalise_app_password(typed) else {
        return Ok(None);
    };
    let candidates = auth
        .store
        .app_password_candidates(user.id, rules::app_password_lookup(&normalised))
        .await?;
    if candidates.is_empty() {
        return Ok(None);
    }
    Ok(crate::blocking::run(move || {
        candidates
            .into_iter()
            .find(|(_, hash)| hashing::verify(&normalised, hash))
            .map(|(id, _)| id)
    })
    .await
    .unwrap_or(None))
}

/// The password grant's credential check: an application password always, the account password
/// only while 2-step authentication is off. Every refusal but `Throttled` spends the shared login
/// budget.
pub(crate) async fn authenticate_grant(
    auth: &Auth<'_>,
    login: &str,
    pw: &str,
    peer: IpAddr,
) -> Result<GrantVerdict, StoreError> {
    if let Some(retry_after) = password::over_budget(auth, login, peer) {
        return Ok(GrantVerdict::Throttled { retry_after });
    }
    if login.len() <= 200
        && rules::normalise_app_password(pw).is_some()
        && let Some(user) = auth.store.user_by_login(login).await?
        && let Some(id) = find(auth, &user, pw).await?
    {
        // The budget is not cleared: an API client's success must not buy an attacker fresh
        // guesses at this account's 2-step codes.
        let mut tx = auth.store.begin();
        tx.touch_app_password(id, auth.now()).await?;
        tx.commit().await?;
        return Ok(GrantVerdict::Accepted {
            user,
            app_password: Some(id),
        });
    }
    match password::verify(auth, login, pw).await? {
        (Some(user), true) if auth.store.two_step(user.id).await?.enabled() => {
            let failure = Failure::NeedsSecondFactor;
            password::count_failure(auth, login, peer, Some(user.id), failure).await?;
            Ok(GrantVerdict::NeedsSecondFactor)
        }
        (Some(user), true) => {
            password::clear_failures(auth, login);
            Ok(GrantVerdict::Accepted {
                user,
                app_password: None,
            })
        }
        (user, _) => {
            let user_id = user.map(|u| u.id);
            password::count_failure(auth, login, peer, user_id, Failure::Password).await?;
            Ok(GrantVerdict::Refused)
        }
    }
}
