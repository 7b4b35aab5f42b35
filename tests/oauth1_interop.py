#!/usr/bin/env python3
"""Interoperability: Python requests-oauthlib (an independent, widely used OAuth 1.0a client)
against a running Latchkey. Run by the integration test
`oauthlib_client_completes_discovery_the_three_legged_flow_and_a_signed_post`, which passes:

    LATCHKEY_URL CONSUMER_KEY CONSUMER_SECRET CALLBACK USERNAME PASSWORD

Steps: discovery (HEAD / -> Link -> /wp-json/ -> authentication.oauth1), temporary credentials
(a signed POST), the browser leg (login, consent with CSRF, approve), token credentials (a signed
POST with the verifier), a signed GET of /wp-json/wp/v2/users/me and /rest/v1.1/me, and a signed
POST with a form body to /wp-json/wp/v2/posts. Prints "interop ok" on success; any failure raises.
"""

import os
import re
import sys
import urllib.parse

import requests
from requests_oauthlib import OAuth1Session

BASE = os.environ["LATCHKEY_URL"]
KEY = os.environ["CONSUMER_KEY"]
SECRET = os.environ["CONSUMER_SECRET"]
CALLBACK = os.environ["CALLBACK"]
USERNAME = os.environ["USERNAME"]
PASSWORD = os.environ["PASSWORD"]


def check(response, status=200):
    if response.status_code != status:
        sys.exit(f"{response.request.method} {response.url}: {response.status_code} {response.text}")
    return response


def hidden(html, name):
    match = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), html)
    if not match:
        sys.exit(f"no {name} field in {html}")
    return match.group(1)


# 1. Discovery, as the plugin's readme says.
head = check(requests.head(BASE + "/"))
link = requests.utils.parse_header_links(head.headers["Link"])[0]
assert link["rel"] == "https://api.w.org/", link
index = check(requests.get(link["url"])).json()
urls = index["authentication"]["oauth1"]
assert urls["version"] == "0.1", urls

# 2. Temporary credentials: requests-oauthlib POSTs, signed with the consumer secret.
client = OAuth1Session(KEY, client_secret=SECRET, callback_uri=CALLBACK)
temporary = client.fetch_request_token(urls["request"])
assert temporary.get("oauth_callback_confirmed") == "true", temporary

# 3. The user approves in a browser.
browser = requests.Session()
authorize_url = client.authorization_url(urls["authorize"])
detour = check(browser.get(authorize_url, allow_redirects=False), 303)
login_page = check(browser.get(BASE + "/login"))
check(
    browser.post(
        BASE + "/login",
        data={
            "csrf": hidden(login_page.text, "csrf"),
            "username": USERNAME,
            "password": PASSWORD,
            "redirect_to": urllib.parse.parse_qs(urllib.parse.urlsplit(detour.headers["Location"]).query)["redirect_to"][0],
        },
        allow_redirects=False,
    ),
    303,
)
consent = check(browser.get(authorize_url, allow_redirects=False))
blog = re.search(r'<option value="(\d+)">', consent.text).group(1)
approved = check(
    browser.post(
        BASE + "/oauth1/authorize",
        data={
            "oauth_token": temporary["oauth_token"],
            "oauth_callback": hidden(consent.text, "oauth_callback").replace("&#38;", "&").replace("&amp;", "&"),
            "csrf": hidden(consent.text, "csrf"),
            "blog_id": blog,
            "action": "approve",
        },
        allow_redirects=False,
    ),
    303,
)
redirect = approved.headers["Location"]
assert redirect.startswith(CALLBACK + "?"), redirect
assert "wp_scope=%2A" in redirect, redirect
client.parse_authorization_response(redirect)

# 4. Token credentials: a signed POST carrying the verifier.
tokens = client.fetch_access_token(urls["access"])
assert len(tokens["oauth_token"]) == 24 and len(tokens["oauth_token_secret"]) == 48, tokens

# 5. Signed REST calls with the access token.
api = OAuth1Session(
    KEY,
    client_secret=SECRET,
    resource_owner_key=tokens["oauth_token"],
    resource_owner_secret=tokens["oauth_token_secret"],
)
me = check(api.get(BASE + "/wp-json/wp/v2/users/me", params={"context": "view", "a[]": ["2", "1"]})).json()
assert me["slug"] == USERNAME, me
rest_me = check(api.get(BASE + "/rest/v1.1/me")).json()
assert rest_me["username"] == USERNAME, rest_me

# 6. A signed POST with a form body (repeated names, spaces, reserved characters) creating a post
# on the blog chosen at authorize, then a signed GET listing it.
posted = check(
    api.post(
        BASE + "/wp-json/wp/v2/posts",
        data=[("title", "Hello world & more"), ("content", "\u2713 signed"), ("tag", "b"), ("tag", "a")],
    ),
    201,
).json()
assert posted["title"]["rendered"] == "Hello world & more", posted
listed = check(api.get(BASE + "/wp-json/wp/v2/posts")).json()
assert [p["id"] for p in listed] == [posted["id"]], listed
poster = OAuth1Session(KEY, client_secret=SECRET, callback_uri=CALLBACK)

# And a tampered one is refused with the base string the server computed.
tampered = requests.Request("POST", urls["request"], data={"title": "x"}).prepare()
signed = poster.auth(tampered)
signed.body = "title=y"
refused = requests.Session().send(signed)
assert refused.status_code == 401, refused.text
assert "oauth_problem=signature_invalid" in refused.text, refused.text
assert "oauth_signature_base_string=" in refused.text, refused.text

print("interop ok")
