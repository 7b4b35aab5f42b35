#!/usr/bin/env python3
"""Interoperability: Authlib (an independent OAuth 2.1 / OpenID Connect client) and PyJWT (an
independent JWT library) against a running Latchkey's /oauth2-1/ server. Run by the integration
test in tests/it/oauth21_interop.rs, which passes:

    LATCHKEY_URL CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD [OLD_ID_TOKEN]

Steps: OpenID discovery; the authorization code flow with PKCE S256, `openid profile email
offline_access` and a nonce (Authlib builds the request and redeems the code); the browser leg
(login, consent with CSRF, approve — or, on a second run, the earlier
grant standing for consent); the ID token verified by PyJWT against the JWKS (signature,
iss, aud, exp, nonce, at_hash); UserInfo; a REST call; a refresh (rotation: the old refresh token
differs from the new); introspection; revocation of the refresh token, after which a refresh fails.
With OLD_ID_TOKEN (an ID token from a run before `latchkey keys rotate`), it is verified against the
JWKS too and must carry a different `kid` from the new one. Prints one JSON line
{"id_token": …, "kid": …} on success; any failure exits non-zero.
"""

import base64
import hashlib
import html.parser
import json
import os
import secrets
import sys
import urllib.parse

import jwt
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

BASE = os.environ["LATCHKEY_URL"]
CLIENT_ID = os.environ["CLIENT_ID"]
CLIENT_SECRET = os.environ["CLIENT_SECRET"]
REDIRECT_URI = os.environ["REDIRECT_URI"]
USERNAME = os.environ["USERNAME"]
PASSWORD = os.environ["PASSWORD"]
OLD_ID_TOKEN = os.environ.get("OLD_ID_TOKEN")


def check(response, status=200):
    if response.status_code != status:
        sys.exit(f"{response.request.method} {response.url}: {response.status_code} {response.text}")
    return response


class Form(html.parser.HTMLParser):
    """The first form of a page: its action and the fields a browser would submit (hidden inputs
    and the first option of each select)."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields = []
        self.select = None
        self.done = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.done:
            return
        if tag == "form" and self.action is None:
            self.action = attrs.get("action", "")
        elif tag == "input" and attrs.get("type") == "hidden" and "name" in attrs:
            self.fields.append((attrs["name"], attrs.get("value", "")))
        elif tag == "select":
            self.select = attrs.get("name")
        elif tag == "option" and self.select is not None:
            self.fields.append((self.select, attrs.get("value", "")))
            self.select = None

    def handle_endtag(self, tag):
        if tag == "form" and self.action is not None:
            self.done = True


def form_of(page):
    parser = Form()
    parser.feed(page)
    if parser.action is None:
        sys.exit(f"no form in {page}")
    return parser


# 1. Discovery.
config = check(requests.get(BASE + "/.well-known/openid-configuration")).json()
issuer = config["issuer"]
assert issuer == BASE.rstrip("/"), config
assert "S256" in config["code_challenge_methods_supported"], config

# 2. The authorization request, built by Authlib.
client = OAuth2Session(
    CLIENT_ID,
    CLIENT_SECRET,
    scope="openid profile email offline_access",
    redirect_uri=REDIRECT_URI,
    code_challenge_method="S256",
    token_endpoint_auth_method="client_secret_basic",
)
verifier = generate_token(48)
nonce = secrets.token_urlsafe(16)
authorize_url, state = client.create_authorization_url(
    config["authorization_endpoint"], code_verifier=verifier, nonce=nonce
)

# 3. The user logs in and approves in a browser.
browser = requests.Session()
detour = check(browser.get(authorize_url, allow_redirects=False), 303)
login_target = urllib.parse.urljoin(BASE, detour.headers["Location"])
login_page = check(browser.get(login_target))
login = form_of(login_page.text)
check(
    browser.post(
        urllib.parse.urljoin(login_target, login.action or login_target),
        data=login.fields + [("username", USERNAME), ("password", PASSWORD)],
        allow_redirects=False,
    ),
    303,
)
shown = browser.get(authorize_url, allow_redirects=False)
if shown.status_code == 303:
    # An earlier identical grant of this user to this client stands for consent.
    callback = shown.headers["Location"]
else:
    consent = form_of(check(shown).text)
    approved = check(
        browser.post(
            urllib.parse.urljoin(BASE, consent.action),
            data=consent.fields + [("action", "approve")],
            allow_redirects=False,
        ),
        303,
    )
    callback = approved.headers["Location"]
assert callback.startswith(REDIRECT_URI + "?"), callback
answer = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
assert answer["state"] == state, answer
assert answer["iss"] == issuer, answer

# 4. Authlib redeems the code with the verifier.
token = client.fetch_token(
    config["token_endpoint"], authorization_response=callback, code_verifier=verifier
)
for field in ("access_token", "refresh_token", "id_token", "expires_in"):
    assert field in token, token
assert token["token_type"].lower() == "bearer", token

# 5. PyJWT verifies the ID token against the JWKS.
jwks = jwt.PyJWKClient(config["jwks_uri"])


def verified(id_token):
    key = jwks.get_signing_key_from_jwt(id_token)
    return jwt.decode(id_token, key.key, algorithms=["RS256"], audience=CLIENT_ID, issuer=issuer)


claims = verified(token["id_token"])
assert claims["nonce"] == nonce, claims
digest = hashlib.sha256(token["access_token"].encode()).digest()
assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode(), claims
assert claims["preferred_username"] == USERNAME, claims
kid = jwt.get_unverified_header(token["id_token"])["kid"]

# 6. UserInfo and the REST API with the access token.
userinfo = check(client.get(config["userinfo_endpoint"])).json()
assert userinfo["sub"] == claims["sub"], userinfo
me = check(client.get(BASE + "/rest/v1.1/me")).json()
assert str(me["ID"]) == claims["sub"], me

# 7. Refresh: a new pair, the refresh token rotated.
first_refresh = token["refresh_token"]
refreshed = client.refresh_token(config["token_endpoint"])
assert refreshed["refresh_token"] != first_refresh, refreshed
assert refreshed["access_token"] != token["access_token"], refreshed
check(client.get(BASE + "/rest/v1.1/me"))

# 8. Introspection of the new access token, as its own client.
introspected = check(
    requests.post(
        config["introspection_endpoint"],
        data={"token": refreshed["access_token"]},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
).json()
assert introspected["active"] is True and introspected["client_id"] == CLIENT_ID, introspected

# 9. Revoking the refresh token ends the family: the next refresh fails.
check(
    client.revoke_token(
        config["revocation_endpoint"], token=refreshed["refresh_token"], token_type_hint="refresh_token"
    )
)
after = requests.post(
    config["token_endpoint"],
    data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
    auth=(CLIENT_ID, CLIENT_SECRET),
)
assert after.status_code == 400 and after.json()["error"] == "invalid_grant", after.text

# 10. After a key rotation: the old ID token still verifies (overlap) and the keys differ.
if OLD_ID_TOKEN:
    verified_old = jwt.decode(
        OLD_ID_TOKEN,
        jwks.get_signing_key_from_jwt(OLD_ID_TOKEN).key,
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=issuer,
    )
    assert verified_old["sub"] == claims["sub"], verified_old
    assert jwt.get_unverified_header(OLD_ID_TOKEN)["kid"] != kid, "rotation did not change the key"

print(json.dumps({"id_token": token["id_token"], "kid": kid}))
