//! Tests of the `oauth_callback` rules.

use super::*;
use proptest::prelude::*;

const REGISTERED: &str = "https://client.example/oauth1/cb";

#[test]
fn callbacks_that_differ_in_scheme_userinfo_host_port_or_path_do_not_match() {
    // Security O107, plus the spellings url::Url would normalise away.
    let cases = [
        ("other host", "https://evil.example/cb"),
        ("other host, same path", "https://evil.example/oauth1/cb"),
        ("userinfo", "https://client.example@evil.example/oauth1/cb"),
        (
            "userinfo with password",
            "https://u:p@client.example/oauth1/cb",
        ),
        ("other port", "https://client.example:8443/oauth1/cb"),
        (
            "explicit default port",
            "https://client.example:443/oauth1/cb",
        ),
        ("dot segments", "https://client.example/oauth1/cb/../x"),
        (
            "dot segment back to the same path",
            "https://client.example/oauth1/x/../cb",
        ),
        ("encoded slash", "https://client.example/oauth1%2Fcb"),
        ("other scheme", "http://client.example/oauth1/cb"),
        ("upper-case scheme", "HTTPS://client.example/oauth1/cb"),
        ("upper-case host", "https://Client.example/oauth1/cb"),
        ("path case", "https://client.example/OAuth1/cb"),
        ("sub-path", "https://client.example/oauth1/cb/more"),
        ("trailing slash", "https://client.example/oauth1/cb/"),
        ("prefix only", "https://client.example/oauth1"),
        ("no path", "https://client.example"),
        (
            "backslash",
            "https://client.example\\@evil.example/oauth1/cb",
        ),
        ("trailing dot host", "https://client.example./oauth1/cb"),
        ("oob", "oob"),
        ("empty", ""),
        ("relative", "/oauth1/cb"),
        (
            "newline in query",
            "https://client.example/oauth1/cb?a=1\r\nX: y",
        ),
        ("space in query", "https://client.example/oauth1/cb?a= b"),
        ("tab in path", "https://client.example/oauth1/\tcb"),
    ];
    for (what, supplied) in cases {
        assert!(!matches(REGISTERED, supplied), "{what}: {supplied}");
        assert!(check(REGISTERED, supplied).is_err(), "{what}");
    }
}

#[test]
fn callbacks_that_differ_only_in_query_or_fragment_match() {
    let cases = [
        REGISTERED,
        "https://client.example/oauth1/cb?site=3",
        "https://client.example/oauth1/cb?",
        "https://client.example/oauth1/cb#top",
        "https://client.example/oauth1/cb?a=%2F&b=é#f?g",
    ];
    for supplied in cases {
        assert!(matches(REGISTERED, supplied), "{supplied}");
        assert_eq!(check(REGISTERED, supplied), Ok(()));
    }
    assert!(matches(
        "https://client.example/oauth1/cb?site=1#x",
        REGISTERED
    ));
}

#[test]
fn presence_of_port_and_path_must_be_equal() {
    let cases = [
        ("http://h:8080", "http://h:8080", true),
        ("http://h:8080/", "http://h:8080/", true),
        ("http://h:8080", "http://h:8080/", false),
        ("http://h:8080/", "http://h:8080", false),
        ("http://h:8080", "http://h:8080?x=1", true),
        ("http://h:8080", "http://h:8081", false),
        ("http://h:8080", "http://h", false),
        ("http://h", "http://h:80", false),
        ("http://h:80", "http://h:80", true),
        (
            "http://localhost:3000/cb",
            "http://localhost:3000/cb?state=1",
            true,
        ),
    ];
    for (registered, supplied, expected) in cases {
        assert_eq!(
            matches(registered, supplied),
            expected,
            "{registered} vs {supplied}"
        );
    }
}

#[test]
fn oob_matches_only_oob() {
    assert!(matches("oob", "oob"));
    assert!(!matches("oob", REGISTERED));
    assert!(!matches(REGISTERED, "oob"));
    assert!(!matches("oob", "OOB"));
    assert!(!matches("OOB", "OOB"));
}

#[test]
fn an_invalid_registered_callback_matches_nothing() {
    for registered in ["https://u@h/cb", "custom-app://cb", "https://[::1]/cb", ""] {
        assert!(!matches(registered, registered), "{registered}");
    }
}

#[test]
fn mismatches_explain_themselves() {
    assert_eq!(
        check(REGISTERED, "https://evil.example/cb"),
        Err(CallbackError::Mismatch)
    );
    assert_eq!(
        check(REGISTERED, "https://client.example@evil.example/oauth1/cb"),
        Err(CallbackError::UserInfo)
    );
    assert_eq!(check(REGISTERED, "oob"), Err(CallbackError::Mismatch));
}

#[test]
fn registered_callbacks_are_validated() {
    let cases: [(&str, Result<(), CallbackError>); 24] = [
        ("oob", Ok(())),
        ("https://client.example/oauth1/cb", Ok(())),
        ("http://localhost:8080", Ok(())),
        ("http://127.0.0.1:3000/cb?x=1#y", Ok(())),
        ("HTTPS://Client.Example/cb", Ok(())),
        ("https://client.example:443/cb", Ok(())),
        ("OOB", Err(CallbackError::NotAbsolute)),
        ("", Err(CallbackError::NotAbsolute)),
        ("/oauth1/cb", Err(CallbackError::NotAbsolute)),
        ("client.example/cb", Err(CallbackError::NotAbsolute)),
        ("https:client.example/cb", Err(CallbackError::NotAbsolute)),
        ("custom-app://oauth_callback", Err(CallbackError::Scheme)),
        ("javascript://x/%0Aalert(1)", Err(CallbackError::Scheme)),
        (
            "https://user:pass@client.example/cb",
            Err(CallbackError::UserInfo),
        ),
        (
            "https://client.example@evil.example/cb",
            Err(CallbackError::UserInfo),
        ),
        ("https:///cb", Err(CallbackError::EmptyHost)),
        ("https://:8080/cb", Err(CallbackError::EmptyHost)),
        ("https://[::1]/cb", Err(CallbackError::BadHost)),
        ("https://h:/cb", Err(CallbackError::BadPort)),
        ("https://h:99999/cb", Err(CallbackError::BadPort)),
        ("https://h:0/cb", Err(CallbackError::BadPort)),
        ("https://h:80:81/cb", Err(CallbackError::BadPort)),
        (
            "https://client.example/c b",
            Err(CallbackError::ForbiddenCharacter),
        ),
        (
            "https://bücher.example/cb",
            Err(CallbackError::ForbiddenCharacter),
        ),
    ];
    for (cb, expected) in cases {
        assert_eq!(validate_registered(cb), expected, "{cb}");
    }
    for cb in [
        "https://client.example/cb\n",
        "https://client.example\\cb",
        "https://exa%20mple/cb",
        "https://a<b/cb",
    ] {
        assert!(validate_registered(cb).is_err(), "{cb:?}");
    }
}

#[test]
fn every_error_is_callback_rejected_with_advice() {
    let errors = [
        CallbackError::NotAbsolute,
        CallbackError::Scheme,
        CallbackError::UserInfo,
        CallbackError::EmptyHost,
        CallbackError::BadHost,
        CallbackError::BadPort,
        CallbackError::ForbiddenCharacter,
        CallbackError::Malformed,
        CallbackError::Mismatch,
        CallbackError::NotGiven,
    ];
    for err in errors {
        assert_eq!(err.problem().as_str(), "callback_rejected");
        assert!(
            err.to_string().starts_with("the callback")
                || matches!(err, CallbackError::Mismatch | CallbackError::NotGiven)
        );
    }
}

#[test]
fn a_callback_given_nowhere_needs_an_oob_registration() {
    let url = "https://client.example/cb";
    assert_eq!(settle(url, url).as_deref(), Ok(url));
    assert_eq!(settle("oob", "oob").as_deref(), Ok("oob"));
    assert_eq!(settle("oob", GIVEN_LATER).as_deref(), Ok("oob"));
    assert_eq!(settle(url, GIVEN_LATER), Err(CallbackError::NotGiven));
    assert_eq!(settle("", GIVEN_LATER), Err(CallbackError::NotGiven));
}

#[test]
fn appended_parameters_keep_the_query_and_put_the_fragment_last() {
    let verifier = [
        ("oauth_token", "Ab3"),
        ("oauth_verifier", "Zx9"),
        ("wp_scope", "*"),
    ];
    let cases = [
        (
            "https://client.example/cb",
            "https://client.example/cb?oauth_token=Ab3&oauth_verifier=Zx9&wp_scope=%2A",
        ),
        (
            "https://client.example/cb?site=3#frag",
            "https://client.example/cb?site=3&oauth_token=Ab3&oauth_verifier=Zx9&wp_scope=%2A#frag",
        ),
        (
            "https://client.example/cb?",
            "https://client.example/cb?oauth_token=Ab3&oauth_verifier=Zx9&wp_scope=%2A",
        ),
        (
            "https://client.example/cb?a=1&&b=%2F&",
            "https://client.example/cb?a=1&b=%2F&oauth_token=Ab3&oauth_verifier=Zx9&wp_scope=%2A",
        ),
        (
            "https://client.example/cb?oauth_token=old&x=1&oauth%5Fverifier=old",
            "https://client.example/cb?x=1&oauth_token=Ab3&oauth_verifier=Zx9&wp_scope=%2A",
        ),
        (
            "http://h:8080#a?b",
            "http://h:8080?oauth_token=Ab3&oauth_verifier=Zx9&wp_scope=%2A#a?b",
        ),
        (
            "https://client.example/cb?q=é",
            "https://client.example/cb?q=%C3%A9&oauth_token=Ab3&oauth_verifier=Zx9&wp_scope=%2A",
        ),
    ];
    for (callback, expected) in cases {
        assert_eq!(append_params(callback, &verifier), expected, "{callback}");
    }
    assert_eq!(
        append_params(
            "https://c.example/cb?s=1",
            &[("oauth_problem", "user_refused")]
        ),
        "https://c.example/cb?s=1&oauth_problem=user_refused"
    );
}

proptest! {
    #[test]
    fn matching_never_panics(registered in ".*", supplied in ".*") {
        let _ = matches(&registered, &supplied);
        let _ = check(&registered, &supplied);
        let _ = append_params(&supplied, &[("oauth_token", "t")]);
    }

    #[test]
    fn an_accepted_callback_is_the_registered_one_up_to_query_and_fragment(
        registered in "https?://[a-c.]{1,4}(:[0-9]{1,3})?(/[a-c./%]{0,4})?",
        tail in "[?#/.@:a%]{0,4}",
        other in "https?://[a-c.@:]{1,6}(/[a-c./%]{0,4})?([?#][a-c?#]{0,3})?",
    ) {
        let cut = |s: &str| s[..s.find(['?', '#']).unwrap_or(s.len())].to_owned();
        for supplied in [format!("{registered}{tail}"), other] {
            if matches(&registered, &supplied) {
                prop_assert_eq!(cut(&registered), cut(&supplied));
                let registered = Url::parse(&registered).unwrap();
                let supplied = Url::parse(&supplied).unwrap();
                prop_assert_eq!(registered.origin(), supplied.origin());
                prop_assert_eq!(registered.path(), supplied.path());
            }
        }
    }

    #[test]
    fn any_query_or_fragment_on_a_valid_callback_matches(
        registered in "https?://[a-z]{1,8}\\.example(:[1-9][0-9]{0,3})?(/[a-z0-9._~-]{0,8}){0,3}",
        suffix in "([?#][!-\\[\\]-~]{0,12})?",
    ) {
        prop_assert_eq!(validate_registered(&registered), Ok(()));
        let supplied = format!("{registered}{suffix}");
        prop_assert!(matches(&registered, &supplied), "{}", supplied);
        let redirect = append_params(&supplied, &[("oauth_verifier", "v")]);
        prop_assert!(matches(&registered, &redirect), "{}", redirect);
    }
}
