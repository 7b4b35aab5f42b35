// An MCP agent built on the official MCP TypeScript SDK (@modelcontextprotocol/sdk, unmodified):
// its Client and Streamable HTTP transport, with an in-memory OAuthClientProvider as the SDK's
// examples have, driven against a running Latchkey (oauth21.md §8). Run by the integration test
// tests/it/mcp_interop.rs, which passes:
//
//   LATCHKEY_URL      the server's public URL
//   REGISTRATION      "metadata-document" (a Client ID Metadata Document this script serves on a
//                     loopback port) or "dynamic" (RFC 7591 registration)
//   USERNAME PASSWORD the user who approves the agent in the "browser"
//   REST_TOKEN        a REST API token of that user (an MCP token is refused by /rest/v1.1: its
//                     audience is the MCP endpoint), to read back the post the agent made
//   WAIT_SECS         how long to wait for the agent's access token to expire
//   TRANSCRIPT        the file the HTTP transcript is written to (secrets masked)
//
// Steps: connect → 401 → the SDK's discovery from `resource_metadata` → registration → the
// authorization URL, which this script opens as a browser would (plain HTTP with a cookie jar: log
// in, approve on the consent page with its CSRF token, follow the redirect to the agent's loopback
// redirect URI) → finishAuth → tools/list → tools/call creating a post → the post read back at
// GET /rest/v1.1/sites/{site}/posts/{id} → the access token expires and the SDK refreshes it on the
// 401 → the user disconnects the agent on the connected-applications page → the next call fails
// with 401 and the SDK, its refresh refused, asks for a new authorization. Prints one JSON line on
// success; any failure exits non-zero.

import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const BASE = process.env.LATCHKEY_URL.replace(/\/$/, '');
const REGISTRATION = process.env.REGISTRATION;
const USERNAME = process.env.USERNAME;
const PASSWORD = process.env.PASSWORD;
const REST_TOKEN = process.env.REST_TOKEN;
const WAIT_SECS = Number(process.env.WAIT_SECS ?? '0');
const TRANSCRIPT = process.env.TRANSCRIPT;
const MCP_URL = `${BASE}/wpcom/v2/mcp/v1`;
const CLIENT_NAME = `Interop Agent (${REGISTRATION})`;

if (!['metadata-document', 'dynamic'].includes(REGISTRATION)) {
  throw new Error(`REGISTRATION must be metadata-document or dynamic, not ${REGISTRATION}`);
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

// ---- The transcript: every request and response, secrets masked ----

const SECRET_KEYS = new Set([
  'access_token', 'refresh_token', 'id_token', 'code', 'code_verifier', 'client_secret',
  'registration_access_token', 'password', 'csrf', 'token', 'state',
]);
const mask = (value) => (typeof value === 'string' && value.length > 0 ? `${value.slice(0, 4)}…` : value);

function maskJson(value) {
  if (Array.isArray(value)) return value.map(maskJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_KEYS.has(k) ? mask(v) : maskJson(v)]),
    );
  }
  return value;
}

// Form and query parameters, decoded for reading (`&`-separated `name=value`).
function maskParams(params) {
  return [...params].map(([k, v]) => `${k}=${SECRET_KEYS.has(k) ? mask(v) : v}`).join('&');
}

function maskUrl(raw) {
  const url = new URL(raw);
  const query = url.search ? `?${maskParams(url.searchParams)}` : '';
  return `${url.origin}${url.pathname}${query}`;
}

function maskHeader(name, value) {
  switch (name.toLowerCase()) {
    case 'authorization': {
      const [scheme, credential] = value.split(' ');
      return `${scheme} ${mask(credential)}`;
    }
    case 'cookie':
      return value.split(/;\s*/).map((c) => { const [n, v] = c.split('='); return `${n}=${mask(v)}`; }).join('; ');
    case 'set-cookie':
      return value.replace(/^([^=]+)=([^;]*)/, (_, n, v) => `${n}=${mask(v)}`);
    case 'location':
      return value.startsWith('/') ? maskUrl(`http://x${value}`).slice('http://x'.length) : maskUrl(value);
    default:
      return value;
  }
}

const REQUEST_HEADERS = ['user-agent', 'authorization', 'content-type', 'accept', 'cookie', 'mcp-session-id', 'mcp-protocol-version'];
const RESPONSE_HEADERS = ['content-type', 'location', 'www-authenticate', 'set-cookie', 'mcp-session-id', 'cache-control'];

function maskBody(text, contentType = '') {
  if (text === undefined || text === null || text === '') return '';
  if (contentType.includes('json')) {
    try { return JSON.stringify(maskJson(JSON.parse(text))); } catch { /* not JSON after all */ }
  }
  if (contentType.includes('x-www-form-urlencoded')) return maskParams(new URLSearchParams(text));
  if (contentType.includes('text/event-stream')) {
    return text.split('\n').filter((l) => l.startsWith('data:'))
      .map((l) => { try { return `data: ${JSON.stringify(maskJson(JSON.parse(l.slice(5))))}`; } catch { return l; } })
      .join('\n');
  }
  if (contentType.includes('html')) {
    const title = /<title>([^<]*)<\/title>/.exec(text)?.[1] ?? '';
    const forms = formsOf(text).map((f) => `form ${f.method} ${f.action} [${f.fields.map(([n, v]) => `${n}=${SECRET_KEYS.has(n) ? mask(v) : v}`).join(', ')}]`);
    return `(HTML page "${title}"${forms.length ? `; ${forms.join('; ')}` : ''})`;
  }
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

const transcript = [];

// Records one exchange; the response body is read from a clone, so the caller's stream is untouched
// (a long-lived event stream is noted as such).
async function recorded(who, url, init, doFetch) {
  const headers = new Headers(init?.headers);
  const entry = {
    who,
    method: init?.method ?? 'GET',
    url: String(url),
    requestHeaders: REQUEST_HEADERS.filter((h) => headers.has(h)).map((h) => [h, headers.get(h)]),
    requestBody: typeof init?.body === 'string' ? init.body : init?.body instanceof URLSearchParams ? init.body.toString() : '',
    requestType: headers.get('content-type') ?? (init?.body instanceof URLSearchParams ? 'application/x-www-form-urlencoded' : ''),
  };
  transcript.push(entry);
  const response = await doFetch(url, init);
  entry.status = response.status;
  entry.responseHeaders = [];
  for (const h of RESPONSE_HEADERS) {
    if (h === 'set-cookie') response.headers.getSetCookie().forEach((c) => entry.responseHeaders.push([h, c]));
    else if (response.headers.has(h)) entry.responseHeaders.push([h, response.headers.get(h)]);
  }
  const type = response.headers.get('content-type') ?? '';
  if (entry.method === 'GET' && type.includes('text/event-stream')) {
    entry.responseBody = '(event stream left open)';
  } else {
    entry.pending = response.clone().text().then((t) => { entry.responseBody = t; }, () => {});
  }
  return response;
}

async function writeTranscript() {
  await Promise.all(transcript.map((e) => Promise.race([e.pending, new Promise((r) => setTimeout(r, 500))])));
  const lines = [`# MCP agent session (${REGISTRATION}) against ${BASE}`, ''];
  transcript.forEach((e, i) => {
    lines.push(`## ${i + 1}. [${e.who}] ${e.method} ${maskUrl(e.url)}`);
    e.requestHeaders.forEach(([h, v]) => lines.push(`> ${h}: ${maskHeader(h, v)}`));
    if (e.requestBody) lines.push(`> ${maskBody(e.requestBody, e.requestType)}`);
    lines.push(`< ${e.status ?? '(no response)'}`);
    (e.responseHeaders ?? []).forEach(([h, v]) => lines.push(`< ${h}: ${maskHeader(h, v)}`));
    const type = (e.responseHeaders ?? []).find(([h]) => h === 'content-type')?.[1] ?? '';
    const body = maskBody(e.responseBody, type);
    if (body) lines.push(`< ${body}`);
    lines.push('');
  });
  writeFileSync(TRANSCRIPT, lines.join('\n'));
}

// ---- The agent's loopback server: its redirect URI, and (metadata-document) its client document ----

let receivedCode;
let documentFetches = 0;
function handle(req, res, port, scheme) {
  const url = new URL(req.url, `${scheme}://127.0.0.1:${port}`);
  if (url.pathname === '/callback') {
    receivedCode = url.searchParams.get('code');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('You can close this window.');
  } else if (url.pathname === '/client.json' && REGISTRATION === 'metadata-document') {
    documentFetches += 1;
    const body = JSON.stringify({ client_id: `${scheme}://127.0.0.1:${port}/client.json`, ...clientMetadata(port) });
    const headers = { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' };
    // Latchkey's side of the exchange, as this document server saw it.
    transcript.push({
      who: 'latchkey fetches the document', method: req.method, url: url.toString(),
      requestHeaders: [['accept', req.headers.accept], ['user-agent', req.headers['user-agent']]], requestBody: '', requestType: '',
      status: 200, responseHeaders: Object.entries(headers), responseBody: body,
    });
    res.writeHead(200, headers);
    res.end(body);
  } else {
    res.writeHead(404);
    res.end();
  }
}

let callbackPort;
function clientMetadata() {
  return {
    client_name: CLIENT_NAME,
    client_uri: 'https://agent.example',
    redirect_uris: [`http://127.0.0.1:${callbackPort}/callback`],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
}

async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server.address().port;
}

// The MCP SDK accepts only an https `clientMetadataUrl`; the document is served over TLS with a
// throwaway self-signed certificate (Latchkey's loopback test switch lets it fetch that).
function selfSigned() {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

// ---- The OAuth client provider: in memory, as the SDK's examples keep it ----

class InMemoryOAuthClientProvider {
  constructor(redirectUrl, metadata, clientMetadataUrl) {
    this._redirectUrl = redirectUrl;
    this._metadata = metadata;
    if (clientMetadataUrl) this.clientMetadataUrl = clientMetadataUrl;
    this.authorizationUrls = [];
    this.savedTokens = [];
    this.invalidated = [];
  }
  get redirectUrl() { return this._redirectUrl; }
  get clientMetadata() { return this._metadata; }
  state() { return randomBytes(16).toString('base64url'); }
  clientInformation() { return this._clientInformation; }
  saveClientInformation(info) { this._clientInformation = info; }
  tokens() { return this._tokens; }
  saveTokens(tokens) { this._tokens = tokens; this.savedTokens.push(tokens); }
  redirectToAuthorization(url) { this.authorizationUrls.push(new URL(url)); }
  saveCodeVerifier(verifier) { this._codeVerifier = verifier; }
  codeVerifier() { return this._codeVerifier; }
  invalidateCredentials(scope) {
    this.invalidated.push(scope);
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'client') this._clientInformation = undefined;
  }
}

// ---- The browser: plain HTTP with a cookie jar, no redirects followed by itself ----

const cookies = new Map();
async function browse(url, init = {}) {
  const headers = new Headers(init.headers);
  if (cookies.size) headers.set('cookie', [...cookies].map(([n, v]) => `${n}=${v}`).join('; '));
  const response = await recorded('browser', url, { ...init, headers, redirect: 'manual' }, fetch);
  for (const c of response.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const [name, value] = pair.split('=');
    if (/max-age=0/i.test(c) || value === '') cookies.delete(name); else cookies.set(name, value);
  }
  return response;
}

function formsOf(page) {
  const forms = [];
  for (const m of page.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const attr = (s, name) => new RegExp(`${name}="([^"]*)"`).exec(s)?.[1];
    const fields = [];
    for (const input of m[2].matchAll(/<input\b([^>]*)>/g)) {
      if (attr(input[1], 'type') === 'hidden') fields.push([attr(input[1], 'name'), decodeEntities(attr(input[1], 'value') ?? '')]);
    }
    for (const select of m[2].matchAll(/<select\b[^>]*name="([^"]*)"[^>]*>[\s\S]*?<option\b[^>]*value="([^"]*)"/g)) {
      fields.push([select[1], decodeEntities(select[2])]);
    }
    forms.push({ action: decodeEntities(attr(m[1], 'action') ?? ''), method: (attr(m[1], 'method') ?? 'get').toUpperCase(), fields, html: m[0], before: page.slice(0, m.index) });
  }
  return forms;
}

function decodeEntities(s) {
  return s.replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

const absolute = (location) => new URL(location, BASE).toString();

async function expectStatus(response, status, what) {
  if (response.status !== status) {
    throw new Error(`${what}: expected ${status}, got ${response.status}: ${await response.text()}`);
  }
  return response;
}

function postForm(url, fields) {
  return browse(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

// An error sent back to the redirect URI instead of a page for the user.
function refusedByAuthorize(response) {
  const location = response.status === 303 ? response.headers.get('location') : null;
  if (location && new URL(absolute(location)).searchParams.has('error')) {
    const answer = new URL(absolute(location)).searchParams;
    throw new Error(`authorize refused the SDK's request: ${answer.get('error')}: ${answer.get('error_description')}`);
  }
}

// The user opens the authorization URL, logs in, reads the consent page and approves; the browser
// follows the redirect to the agent's redirect URI. Returns what the consent page said.
async function approveInBrowser(authorizationUrl) {
  let response = await browse(authorizationUrl.toString());
  refusedByAuthorize(response);
  if (response.status === 303 && new URL(absolute(response.headers.get('location'))).pathname === '/login') {
    const loginUrl = absolute(response.headers.get('location'));
    const page = await (await expectStatus(await browse(loginUrl), 200, 'login page')).text();
    const login = formsOf(page).find((f) => f.action.endsWith('/login'));
    check(login, `a login form on ${page}`);
    response = await expectStatus(await postForm(absolute(login.action), [...login.fields, ['username', USERNAME], ['password', PASSWORD]]), 303, 'login');
    response = await browse(absolute(response.headers.get('location')));
    refusedByAuthorize(response);
  }
  const consentPage = await (await expectStatus(response, 200, 'consent page')).text();
  const consent = formsOf(consentPage).find((f) => f.html.includes('value="approve"'));
  check(consent, `an approve button on the consent page: ${consentPage}`);
  check(consent.fields.some(([n]) => n === 'csrf'), 'the consent form carries a CSRF token');
  const approved = await expectStatus(await postForm(absolute(consent.action), [...consent.fields, ['action', 'approve']]), 303, 'approve');
  const callback = approved.headers.get('location');
  await expectStatus(await browse(callback), 200, 'the redirect URI');
  const answer = new URL(callback).searchParams;
  check(answer.get('iss') === BASE, `iss ${answer.get('iss')} (RFC 9207)`);
  check(answer.get('state') === authorizationUrl.searchParams.get('state'), 'state round-trips');
  check(receivedCode === answer.get('code'), 'the agent received the code');
  const text = consentPage.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
  return { code: answer.get('code'), consentText: decodeEntities(text) };
}

// ---- The session ----

async function main() {
  const callbackServer = createServer((req, res) => handle(req, res, callbackPort, 'http'));
  callbackPort = await listen(callbackServer);
  let documentServer;
  let clientMetadataUrl;
  if (REGISTRATION === 'metadata-document') {
    let documentPort;
    documentServer = createTlsServer(selfSigned(), (req, res) => handle(req, res, documentPort, 'https'));
    documentPort = await listen(documentServer);
    clientMetadataUrl = `https://127.0.0.1:${documentPort}/client.json`;
  }
  const provider = new InMemoryOAuthClientProvider(
    `http://127.0.0.1:${callbackPort}/callback`,
    clientMetadata(),
    clientMetadataUrl,
  );
  const agentFetch = (url, init) => recorded('agent', url, init, fetch);
  const newTransport = () => new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: agentFetch });
  const result = { registration: REGISTRATION };
  try {
    // 1. Connect: 401, discovery, registration, the authorization URL.
    let client = new Client({ name: 'latchkey-interop-agent', version: '1.0.0' });
    let transport = newTransport();
    let refused;
    try {
      await client.connect(transport);
    } catch (e) {
      refused = e;
    }
    check(refused instanceof UnauthorizedError, `the first connect needs authorization: ${refused?.stack ?? 'it connected'}`);
    const first = transcript.find((e) => e.who === 'agent' && e.url === MCP_URL);
    check(first.status === 401, `the first MCP request answered ${first.status}`);
    const challenge = first.responseHeaders.find(([h]) => h === 'www-authenticate')?.[1] ?? '';
    check(challenge.includes(`resource_metadata="${BASE}/.well-known/oauth-protected-resource/wpcom/v2/mcp/v1"`), `WWW-Authenticate: ${challenge}`);
    const info = provider.clientInformation();
    if (REGISTRATION === 'metadata-document') {
      check(info.client_id === clientMetadataUrl, `the SDK used the document URL as client_id: ${info.client_id}`);
      check(!transcript.some((e) => e.url.endsWith('/oauth2-1/register')), 'no RFC 7591 registration');
    } else {
      check(/^\d+$/.test(info.client_id), `a registered client_id: ${info.client_id}`);
      check(transcript.some((e) => e.url === `${BASE}/oauth2-1/register` && e.status === 201), 'RFC 7591 registration answered 201');
    }
    check(provider.authorizationUrls.length === 1, 'the SDK asked for one authorization');
    const authorizationUrl = provider.authorizationUrls[0];
    check(authorizationUrl.origin + authorizationUrl.pathname === `${BASE}/oauth2-1/authorize`, `authorize at ${authorizationUrl}`);
    check(authorizationUrl.searchParams.get('resource') === MCP_URL, `resource=${authorizationUrl.searchParams.get('resource')}`);
    check(authorizationUrl.searchParams.get('code_challenge_method') === 'S256', 'PKCE S256');
    result.client_id = info.client_id;
    result.scope_requested = authorizationUrl.searchParams.get('scope');

    // 2. The user approves in the browser; the agent exchanges the code.
    const { code, consentText } = await approveInBrowser(authorizationUrl);
    result.consent_text = consentText;
    if (REGISTRATION === 'metadata-document') check(documentFetches >= 1, 'Latchkey fetched the metadata document');
    await transport.finishAuth(code);
    check(provider.tokens()?.access_token && provider.tokens()?.refresh_token, 'an access and a refresh token');
    result.scope_granted = provider.tokens().scope;
    result.expires_in = provider.tokens().expires_in;

    // 3. Connected: tools/list and a tools/call that creates a post.
    client = new Client({ name: 'latchkey-interop-agent', version: '1.0.0' });
    transport = newTransport();
    await client.connect(transport);
    result.server = client.getServerVersion();
    const { tools } = await client.listTools();
    result.tools = tools.map((t) => t.name);
    const sitesTool = tools.find((t) => /site/i.test(t.name) && !/post/i.test(t.name));
    const createTool = tools.find((t) => /create/i.test(t.name) && /post/i.test(t.name));
    check(sitesTool && createTool, `a sites tool and a create-post tool among ${result.tools}`);
    const sites = await client.callTool({ name: sitesTool.name, arguments: {} });
    check(!sites.isError, `${sitesTool.name}: ${JSON.stringify(sites)}`);
    const siteId = firstSiteId(sites);
    check(siteId, `a site id in ${JSON.stringify(sites)}`);
    const title = `Written by an MCP agent (${REGISTRATION}) ${randomBytes(4).toString('hex')}`;
    const created = await client.callTool({ name: createTool.name, arguments: postArguments(createTool, siteId, title) });
    check(!created.isError, `${createTool.name}: ${JSON.stringify(created)}`);
    const post = structured(created);
    const postId = post?.ID ?? post?.id ?? post?.post?.ID ?? post?.post?.id;
    check(postId, `a post id in ${JSON.stringify(created)}`);
    result.site_id = String(siteId);
    result.post_id = String(postId);
    result.title = title;

    // 4. The post, read back through the REST API's single-post read, and through the tool that
    //    reads one post (the same rule behind both).
    const restUrl = `${BASE}/rest/v1.1/sites/${siteId}/posts/${postId}`;
    const asReader = { headers: { authorization: `Bearer ${REST_TOKEN}` } };
    const read = await recorded('rest', restUrl, asReader, fetch);
    const readBody = await read.text();
    result.rest_single_post = read.status;
    check(read.status === 200, `GET ${restUrl}: ${read.status} ${readBody}`);
    check(JSON.parse(readBody).title === title, `the REST API shows the post: ${readBody}`);
    const readTool = tools.find((t) => /^get_?post$/i.test(t.name));
    if (readTool) {
      const got = await client.callTool({ name: readTool.name, arguments: { site: Number(siteId), post_id: Number(postId) } });
      check(!got.isError, `${readTool.name}: ${JSON.stringify(got)}`);
      result.tool_read_title = structured(got)?.title;
    }
    const mcpRest = await recorded('rest', `${BASE}/rest/v1.1/sites/${siteId}/posts`, { headers: { authorization: `Bearer ${provider.tokens().access_token}` } }, fetch);
    result.rest_with_mcp_token = mcpRest.status;

    // 5. The access token expires; the SDK refreshes it on the 401 and the call goes through.
    const before = provider.tokens();
    await new Promise((r) => setTimeout(r, WAIT_SECS * 1000));
    const sinceExpiry = transcript.length;
    const again = await client.listTools();
    check(again.tools.length === tools.length, 'tools/list after the refresh');
    const expiredCall = transcript.slice(sinceExpiry).find((e) => e.who === 'agent' && e.url === MCP_URL);
    check(expiredCall.status === 401, `the expired token got ${expiredCall.status}`);
    const refresh = transcript.slice(sinceExpiry).find((e) => e.url === `${BASE}/oauth2-1/token` && e.requestBody.includes('grant_type=refresh_token'));
    check(refresh?.status === 200, 'the SDK refreshed at /oauth2-1/token');
    check(provider.tokens().access_token !== before.access_token, 'a new access token');
    check(provider.tokens().refresh_token !== before.refresh_token, 'the refresh token rotated');
    result.refreshed = true;
    if (REGISTRATION === 'metadata-document') result.document_fetches = documentFetches;

    // 6. The user disconnects the agent; the next call fails with 401 and the SDK's refresh is
    //    refused, so it asks for a new authorization.
    const listUrl = `${BASE}/me/security/connected-applications`;
    const page = await (await expectStatus(await browse(listUrl), 200, 'connected applications')).text();
    const disconnect = formsOf(page).find((f) => f.action.endsWith('/disconnect') && f.before.lastIndexOf(`<h2>${escapeHtml(CLIENT_NAME)}</h2>`) > f.before.lastIndexOf('<section'));
    check(disconnect, `a Disconnect button for ${CLIENT_NAME} on ${page}`);
    await expectStatus(await postForm(absolute(disconnect.action), disconnect.fields), 303, 'disconnect');
    const sinceDisconnect = transcript.length;
    let afterDisconnect;
    try {
      await client.callTool({ name: sitesTool.name, arguments: {} });
    } catch (e) {
      afterDisconnect = e;
    }
    check(afterDisconnect instanceof UnauthorizedError, `after the disconnect: ${afterDisconnect?.stack ?? 'the call succeeded'}`);
    const refusedCall = transcript.slice(sinceDisconnect).find((e) => e.who === 'agent' && e.url === MCP_URL);
    check(refusedCall.status === 401, `the call after the disconnect got ${refusedCall.status}`);
    const refusedRefresh = transcript.slice(sinceDisconnect).find((e) => e.url === `${BASE}/oauth2-1/token`);
    check(refusedRefresh?.status === 400 && refusedRefresh.pending, 'the refresh after the disconnect is refused');
    await refusedRefresh.pending;
    check(JSON.parse(refusedRefresh.responseBody).error === 'invalid_grant', `refresh after disconnect: ${refusedRefresh.responseBody}`);
    check(provider.authorizationUrls.length === 2, 'the SDK asks the user to authorize again');
    result.after_disconnect = refusedCall.status;
    await client.close().catch(() => {});
  } finally {
    await writeTranscript();
    callbackServer.close();
    documentServer?.close();
  }
  result.requests = transcript.length;
  console.log(JSON.stringify(result));
}

function escapeHtml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
}

// The JSON a tool answered: its structured content, or its first text content parsed.
function structured(result) {
  if (result.structuredContent) return result.structuredContent;
  const text = result.content?.find((c) => c.type === 'text')?.text;
  try { return JSON.parse(text); } catch { return undefined; }
}

function firstSiteId(result) {
  const value = structured(result);
  const list = Array.isArray(value) ? value : value?.sites ?? value?.items;
  const site = list?.[0];
  return site?.ID ?? site?.id ?? site?.site_id ?? site?.blog_id;
}

// Arguments for the create-post tool from its input schema: the site, the title, some content.
function postArguments(tool, siteId, title) {
  const properties = tool.inputSchema?.properties ?? {};
  const args = {};
  for (const [name, schema] of Object.entries(properties)) {
    if (/site|blog/i.test(name)) args[name] = schema.type === 'string' ? String(siteId) : Number(siteId);
    else if (/title/i.test(name)) args[name] = title;
    else if (/content|body/i.test(name)) args[name] = 'Posted through the Model Context Protocol.';
    else if (/status/i.test(name)) args[name] = 'publish';
  }
  return args;
}

main().catch((e) => {
  console.error(e?.stack ?? String(e));
  process.exit(1);
});
