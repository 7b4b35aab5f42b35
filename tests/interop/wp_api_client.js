#!/usr/bin/env node
// Interoperability: WP-API's own JavaScript client, npm `wordpress-rest-api-oauth-1`, unmodified,
// against a running Latchkey, driven through its browser flow `authorize()`. Run by the integration
// test `wp_api_javascript_client_gives_its_callback_at_authorize_and_completes_the_flow` with
// LATCHKEY_URL CONSUMER_KEY CONSUMER_SECRET CALLBACK USERNAME PASSWORD.
//
// What this client does that others do not: it asks for the request token with no `oauth_callback`
// (it sends a form field `callback_url` instead) and gives the callback to /oauth1/authorize; and at
// /oauth1/access it sends `oauth_verifier` in the Authorization header and again in the form body.
//
// Shim: `authorize()` is written for a browser page. It reads `window.location.href`, assigns
// `window.location` to go to the authorize page, and keeps the request token in
// `window.localStorage` across that page load. This script provides a minimal `window` with those
// two, plays the page load (a new client object, as a reloaded page would create), and the user's
// browser (login and consent over HTTP, `browser.js`). `fetch` is Node's own; it is wrapped only to
// report an error answer, since the client does not throw on a form-encoded one.
// Steps: the first authorize() (request token, then "redirect"), the browser leg, the second
// authorize() on the callback page (token credentials), a signed GET of /wp/v2/users/me and a
// signed POST creating a post. Prints "interop ok".
'use strict';

const { approve, env, assert } = require('./browser');
const WpApi = require('wordpress-rest-api-oauth-1').default;

const realFetch = globalThis.fetch;
const answers = [];
const sent = [];
globalThis.fetch = async (url, init) => {
  sent.push({ url, authorization: (init.headers || {}).Authorization || '', body: init.body || '' });
  const res = await realFetch(url, init);
  if (res.status >= 300) {
    const text = await res.clone().text();
    answers.push(`${init.method} ${url}: ${res.status} ${text}`);
  }
  return res;
};

function page(href) {
  const stored = globalThis.window ? globalThis.window.localStorage.stored : new Map();
  globalThis.window = {
    location: { href },
    localStorage: {
      stored,
      getItem: (k) => (stored.has(k) ? stored.get(k) : null),
      setItem: (k, v) => stored.set(k, String(v)),
      removeItem: (k) => stored.delete(k),
    },
  };
}

async function main() {
  const { base, key, secret, callback, username, password } = env();
  const config = () => ({
    url: `${base}/`,
    credentials: { client: { public: key, secret } },
    callbackURL: callback,
  });

  // The client's page: authorize() asks for a request token and "redirects" to Latchkey.
  page(callback);
  const first = new WpApi(config());
  const thrown = await first.authorize().then(
    () => null,
    (err) => err,
  );
  assert(answers.length === 0, answers.join('\n'));
  assert(String(thrown).startsWith('Redirect to'), `authorize() did not redirect: ${thrown}`);
  // What makes this client special, checked on the wire: no oauth_callback at request time.
  const request = sent.find((r) => r.url.endsWith('/oauth1/request'));
  assert(request && !/oauth_callback/.test(request.authorization + request.body), JSON.stringify(request));
  const authorizeUrl = window.location;
  assert(typeof authorizeUrl === 'string', `no redirect: ${JSON.stringify(authorizeUrl)}`);
  assert(authorizeUrl.startsWith(`${base}/oauth1/authorize?`), authorizeUrl);
  assert(new URL(authorizeUrl).searchParams.get('oauth_callback') === callback, authorizeUrl);

  // The user approves; Latchkey sends the browser back to the callback.
  const redirect = await approve(base, authorizeUrl, username, password);
  assert(redirect.startsWith(`${callback}?`), redirect);

  // The callback page loads the client again; authorize() exchanges the verifier.
  page(redirect);
  const api = new WpApi(config());
  const tokens = await api.authorize();
  assert(answers.length === 0, answers.join('\n'));
  assert(tokens && tokens.public && tokens.public.length === 24, JSON.stringify(tokens));
  assert(api.hasCredentials(), 'no token credentials');
  // ... and oauth_verifier both in the Authorization header and in the form body at /oauth1/access.
  const access = sent.find((r) => r.url.endsWith('/oauth1/access'));
  assert(
    access && /oauth_verifier="/.test(access.authorization) && /(^|&)oauth_verifier=/.test(access.body),
    JSON.stringify(access),
  );

  const me = await api.get('/wp/v2/users/me');
  assert(me.slug === username, JSON.stringify(me));
  const posted = await api.post('/wp/v2/posts', { title: 'Hello from WP-API', content: 'signed' });
  assert(posted.title.rendered === 'Hello from WP-API', JSON.stringify(posted));
  assert(answers.length === 0, answers.join('\n'));
  console.log('interop ok');
}

main().catch((err) => {
  console.error(err, answers.join('\n'));
  process.exit(1);
});
