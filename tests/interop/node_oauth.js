#!/usr/bin/env node
// Interoperability: npm `oauth` (node-oauth), unmodified, against a running Latchkey, configured as
// its README shows: version '1.0A', a callback, HMAC-SHA1. Run by the integration test
// `node_oauth_client_sending_version_1_0a_completes_the_flow_and_signed_calls` with
// LATCHKEY_URL CONSUMER_KEY CONSUMER_SECRET CALLBACK USERNAME PASSWORD.
// Steps: discovery, temporary credentials, the browser leg, token credentials, a signed GET of
// /wp-json/wp/v2/users/me and a signed form POST to /wp-json/wp/v2/posts. Prints "interop ok".
'use strict';

const http = require('http');
const { OAuth } = require('oauth');
const { approve, env, assert } = require('./browser');

const promised = (fn) =>
  new Promise((resolve, reject) =>
    fn((err, ...results) =>
      err ? reject(new Error(`${err.statusCode}: ${err.data || err}`)) : resolve(results),
    ),
  );

// node-oauth calls http.request; record the Authorization headers it sends.
const authorizations = [];
const realRequest = http.request;
http.request = function (options, ...rest) {
  if (options && options.headers) authorizations.push(options.headers.Authorization || '');
  return realRequest.call(this, options, ...rest);
};

async function main() {
  const { base, key, secret, callback, username, password } = env();
  const index = await (await fetch(`${base}/wp-json/`)).json();
  const urls = index.authentication.oauth1;

  const oa = new OAuth(urls.request, urls.access, key, secret, '1.0A', callback, 'HMAC-SHA1');
  const [token, tokenSecret, results] = await promised((cb) => oa.getOAuthRequestToken(cb));
  assert(results.oauth_callback_confirmed === 'true', JSON.stringify(results));

  const authorizeUrl = `${urls.authorize}?oauth_token=${encodeURIComponent(token)}`;
  const redirect = await approve(base, authorizeUrl, username, password);
  assert(redirect.startsWith(`${callback}?`), redirect);
  const verifier = new URL(redirect).searchParams.get('oauth_verifier');

  const [accessToken, accessSecret] = await promised((cb) =>
    oa.getOAuthAccessToken(token, tokenSecret, verifier, cb),
  );
  assert(accessToken.length === 24 && accessSecret.length === 48, `${accessToken} ${accessSecret}`);

  const [me] = await promised((cb) =>
    oa.get(`${base}/wp-json/wp/v2/users/me?context=view`, accessToken, accessSecret, cb),
  );
  assert(JSON.parse(me).slug === username, me);

  const [posted] = await promised((cb) =>
    oa.post(
      `${base}/wp-json/wp/v2/posts`,
      accessToken,
      accessSecret,
      { title: 'Hello from node-oauth & co', content: '\u2713 signed' },
      cb,
    ),
  );
  assert(JSON.parse(posted).title.rendered === 'Hello from node-oauth & co', posted);
  // Every call carried oauth_version="1.0A", as node-oauth's README configures it.
  assert(authorizations.length === 4, authorizations.join('\n'));
  assert(authorizations.every((a) => a.includes('oauth_version="1.0A"')), authorizations.join('\n'));
  console.log('interop ok');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
