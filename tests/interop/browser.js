// The user's browser for the interoperability scripts: follows the authorize URL a client built,
// logs in, approves on the consent page (CSRF token and blog from the page), and returns the callback
// URL Latchkey redirects to. Plain HTTP with a cookie jar and redirects off, as a browser would send.
'use strict';

const realFetch = globalThis.fetch;

function unescapeHtml(s) {
  return s
    .replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCharCode(parseInt(h, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function hidden(html, name) {
  const match = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!match) throw new Error(`no ${name} field in ${html}`);
  return unescapeHtml(match[1]);
}

async function approve(base, authorizeUrl, username, password) {
  const jar = new Map();
  const go = async (url, init = {}, expected = 200) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const headers = { ...(init.headers || {}), ...(cookie ? { cookie } : {}) };
    const res = await realFetch(new URL(url, base), { ...init, headers, redirect: 'manual' });
    for (const set of res.headers.getSetCookie()) {
      const pair = set.split(';')[0];
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
    }
    const text = await res.text();
    if (res.status !== expected) {
      throw new Error(`${init.method || 'GET'} ${url}: ${res.status} (expected ${expected}) ${text}`);
    }
    return { res, text };
  };
  const form = (fields) => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });

  const detour = await go(authorizeUrl, {}, 303);
  const redirectTo = new URL(detour.res.headers.get('location'), base).searchParams.get('redirect_to');
  const login = await go('/login');
  await go(
    '/login',
    form({ csrf: hidden(login.text, 'csrf'), username, password, redirect_to: redirectTo }),
    303,
  );
  const consent = await go(authorizeUrl);
  const blog = consent.text.match(/<option value="(\d+)">/);
  if (!blog) throw new Error(`no blog to choose on ${consent.text}`);
  const approved = await go(
    '/oauth1/authorize',
    form({
      oauth_token: hidden(consent.text, 'oauth_token'),
      oauth_callback: hidden(consent.text, 'oauth_callback'),
      csrf: hidden(consent.text, 'csrf'),
      blog_id: blog[1],
      action: 'approve',
    }),
    303,
  );
  return approved.res.headers.get('location');
}

// Environment shared by the scripts (set by the integration test).
function env() {
  const get = (name) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
  };
  return {
    base: get('LATCHKEY_URL'),
    key: get('CONSUMER_KEY'),
    secret: get('CONSUMER_SECRET'),
    callback: get('CALLBACK'),
    username: get('USERNAME'),
    password: get('PASSWORD'),
  };
}

function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

module.exports = { approve, env, assert };
