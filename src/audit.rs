//! Audit events that several surfaces write (the store's `audit` module keeps and reads them, and
//! counts and logs each one): the security events that have no page of their own.

use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::{AuditEvent, StoreError};

/// A used authorization code came back: the token issued from it has been revoked (oauth2.md §3).
pub(crate) async fn code_replayed(
    state: &AppState,
    app_id: i64,
    peer: Peer,
) -> Result<(), StoreError> {
    let event = AuditEvent {
        kind: "code_replayed",
        app_id: Some(app_id),
        peer: Some(peer.to_string()),
        detail: "the token issued from the code was revoked",
        ..Default::default()
    };
    state.store.audit_alone(&event, state.now()).await
}

/// An authorization request named a redirect URI the app did not register (security.md RU01).
pub(crate) async fn redirect_refused(state: &AppState, app_id: i64) -> Result<(), StoreError> {
    let event = AuditEvent {
        kind: "redirect_refused",
        app_id: Some(app_id),
        ..Default::default()
    };
    state.store.audit_alone(&event, state.now()).await
}

/// Reads `--since`: Unix seconds, a date `YYYY-MM-DD` (midnight UTC), or an age before `now`
/// (`30s`, `30m`, `24h`, `7d`).
pub(crate) fn parse_since(raw: &str, now: i64) -> Result<i64, String> {
    let raw = raw.trim();
    let bad = || {
        format!(
            "--since {raw:?}: give Unix seconds, a date such as 2026-01-31, or an age such as 24h or 7d"
        )
    };
    if let Ok(secs) = raw.parse::<i64>() {
        return Ok(secs);
    }
    if let Some((number, unit)) = raw.split_at_checked(raw.len().saturating_sub(1)) {
        let scale = match unit {
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3_600),
            "d" => Some(86_400),
            _ => None,
        };
        if let (Some(scale), Ok(n)) = (scale, number.parse::<i64>()) {
            return n
                .checked_mul(scale)
                .map(|age| now - age)
                .filter(|_| n >= 0)
                .ok_or_else(bad);
        }
    }
    let mut parts = raw.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>()) else {
        return Err(bad());
    };
    let month = time::Month::try_from(m).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(y, month, d).map_err(|_| bad())?;
    Ok(date.midnight().assume_utc().unix_timestamp())
}

/// One event as a line of `latchkey audit`: time, kind, user, app, peer, detail.
pub(crate) fn line(event: &crate::store::AuditRecord) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(event.at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| event.at.to_string());
    let or_dash = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    format!(
        "{at}  {:<22} user={:<6} app={:<6} peer={:<15} {}",
        event.kind,
        or_dash(event.user_id),
        or_dash(event.app_id),
        event.peer.as_deref().unwrap_or("-"),
        event.detail
    )
}

/// How many events the Security page lists.
pub(crate) const RECENT: i64 = 20;

/// One line of "Recent activity" on the Security page.
pub(crate) struct Activity {
    pub when: String,
    pub what: String,
    pub peer: String,
}

/// The user's newest events, in words.
pub(crate) async fn recent_activity(
    state: &AppState,
    user_id: i64,
) -> Result<Vec<Activity>, StoreError> {
    let filter = crate::store::AuditFilter {
        user_id: Some(user_id),
        limit: RECENT,
        ..Default::default()
    };
    let events = state.store.audit_events(&filter).await?;
    Ok(events
        .iter()
        .map(|e| Activity {
            when: time::OffsetDateTime::from_unix_timestamp(e.at)
                .ok()
                .and_then(|t| t.format(&WHEN).ok())
                .unwrap_or_default(),
            what: describe(&e.kind, e.app_id),
            peer: e.peer.clone().unwrap_or_else(|| "—".to_owned()),
        })
        .collect())
}

const WHEN: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");

/// An event kind in words, for the account's owner.
fn describe(kind: &str, app_id: Option<i64>) -> String {
    let app = app_id.map_or_else(String::new, |id| format!(" (app {id})"));
    let what = match kind {
        "login" => "Logged in",
        "signup" => "Account created",
        "login_failed" => "Failed login: wrong password",
        "two_step_failed" => "Failed login: wrong 2-step code",
        "needs_2fa" => "Refused: an application password is needed (2-step is on)",
        "lockout" => "Logins paused after too many failures",
        "password_changed" => "Password changed",
        "two_step_enabled" => "2-step authentication turned on",
        "two_step_disabled" => "2-step authentication turned off",
        "app_password_created" => "Application password created",
        "app_password_revoked" => "Application password revoked",
        "consent_granted" => "Approved an app",
        "consent_denied" => "Denied an app",
        "oauth1_token_issued" => "An app received OAuth1 access",
        "app_disconnected" => "Disconnected an app",
        "token_revoked" => "An access token was revoked",
        "app_created" => "Registered an app",
        "app_updated" => "Changed an app",
        "app_deleted" => "Deleted an app",
        "client_secret_reset" => "Reset an app's client secret",
        "consumer_secret_reset" => "Reset an app's consumer secret",
        other => other,
    };
    format!("{what}{app}")
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_reads_seconds_dates_and_ages() {
        let now = 1_767_225_600; // 2026-01-01T00:00:00Z
        assert_eq!(parse_since("1700000000", now), Ok(1_700_000_000));
        assert_eq!(parse_since("2026-01-01", now), Ok(now));
        assert_eq!(parse_since("24h", now), Ok(now - 86_400));
        assert_eq!(parse_since("7d", now), Ok(now - 7 * 86_400));
        assert_eq!(parse_since("30m", now), Ok(now - 1_800));
        for bad in ["yesterday", "2026-13-01", "-3d", "", "5w"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
