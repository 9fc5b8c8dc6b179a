// The OpenID Provider the tests sign in with: panva's oidc-provider, plus what a test needs
// to steer it (tests/oidc_provider.py drives it; nothing else should).
//
// It listens on 127.0.0.1 (port from PORT, 0 = any free one), issuer http://127.0.0.1:<port>,
// and writes one line to stdout when ready: {"issuer": "..."}. It exits when stdin closes,
// so a test worker that dies leaves no provider behind.
//
// Beside the provider's own endpoints (discovery, /auth, /token, /jwks, /me, ...):
//   GET  /interaction/:uid          the login page (a form asking for the subject) or the
//                                   consent page (Allow / Deny forms), plain HTML
//   POST /interaction/:uid/login    form field `sub`
//   POST /interaction/:uid/confirm  grants what the client asked for
//   POST /interaction/:uid/abort    the user denies: the client gets error=access_denied
// and the test admin API (JSON in, JSON out; loopback only like the rest):
//   POST /__test/clients        {client_id, client_secret, redirect_uris, token_endpoint_auth_method?,
//                               secret_signer?: {team_id, key_id, jwk}} (Apple's client secret JWT)
//   POST /__test/accounts       {sub, claims}: the claims of that subject's next sign-ins
//   POST /__test/next-id-token  {client_id, claims?, remove?, key?, kid?}: how the next ID
//                               token issued to that client is tampered with
//   POST /__test/rotate         {keep_old?}: a new signing key (new kid) signs from now on
//   POST /__test/discovery      {fields}: replace these fields of the discovery document
//   GET  /__test/requests       how many requests each path received

import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import {
  SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify,
} from 'jose';
import Provider from 'oidc-provider';

// ---------------------------------------------------------------- state shared across key rotations

const STANDARD_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: [
    'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
  ],
};
const STANDARD = new Set(Object.values(STANDARD_CLAIMS).flat());

const clients = new Map(); // client_id -> client metadata
// client_id -> {team_id, key_id, jwk}: Apple's way, the client secret is a JWT the client
// signs with its own key (ES256); checked here, then swapped for the stored secret.
const secretSigners = new Map();
const APPLE_AUDIENCE = 'https://appleid.apple.com';
const accounts = new Map(); // sub -> claims (any JSON values, kept exactly as given)
const tamperings = new Map(); // client_id -> what to do to the next ID token it gets
const requests = new Map(); // path -> count
let discoveryOverrides = {}; // fields of the discovery document replaced (Microsoft's templated issuer)
const cookieKeys = [randomBytes(32).toString('base64url')];

// Signing keys: the first one signs; every one is published at /jwks.
let signingKeys = [await newSigningKey()];
// Never published: what a forger signs with.
const foreignKey = await newSigningKey();

async function newSigningKey() {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

// oidc-provider's own memory adapter keeps 1000 entries at most (an LRU): a long test
// session would see its clients evicted. This one keeps everything until it expires.
const store = new Map(); // `${model}:${id}` -> {payload, expiresAt}
const sessionsByUid = new Map();

class Adapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(this.key(id), { payload, expiresAt });
    if (this.model === 'Session') sessionsByUid.set(payload.uid, id);
    if (store.size % 500 === 0) prune();
  }

  async find(id) {
    if (this.model === 'Client') return clients.get(id);
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    return this.find(sessionsByUid.get(uid));
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const [key, entry] of store) {
      if (entry.payload.grantId === grantId) store.delete(key);
    }
  }
}

function prune() {
  const now = Date.now();
  for (const [key, entry] of store) {
    if (entry.expiresAt <= now) store.delete(key);
  }
}

// ---------------------------------------------------------------- the provider

let issuer;
let provider;
let handle;

async function build() {
  const keys = signingKeys;
  const built = new Provider(issuer, {
    adapter: Adapter,
    jwks: { keys },
    cookies: { keys: cookieKeys },
    claims: STANDARD_CLAIMS,
    // Scope-requested claims go into the ID token too (as Google's and Microsoft's do), not
    // only to the userinfo endpoint.
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
    },
    pkce: { required: () => true },
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (ctx, sub) => {
      if (!accounts.has(sub)) return undefined;
      return {
        accountId: sub,
        claims: () => ({ ...accounts.get(sub), sub }),
      };
    },
    renderError: (ctx, out) => {
      ctx.type = 'text/plain';
      ctx.body = `${out.error}: ${out.error_description ?? ''}`;
    },
  });
  built.use(tamper);
  built.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/.well-known/openid-configuration' && ctx.status === 200) {
      ctx.body = { ...ctx.body, ...discoveryOverrides };
    }
  });
  return built;
}

// The token endpoint's answer, rewritten when the account has claims beyond the standard
// ones or the test asked for a tampered token: the provider's own token is decoded, changed
// and signed again (with the provider's key unless the test chose another).
async function tamper(ctx, next) {
  await next();
  if (ctx.path !== '/token' || ctx.status !== 200 || !ctx.body?.id_token) return;
  const clientId = ctx.oidc?.client?.clientId;
  const payload = decodeJwt(ctx.body.id_token);
  const extras = Object.entries(accounts.get(payload.sub) ?? {}).filter(([name]) => !STANDARD.has(name));
  const change = tamperings.get(clientId);
  tamperings.delete(clientId);
  if (!extras.length && !change) return;

  Object.assign(payload, Object.fromEntries(extras), change?.claims ?? {});
  for (const name of change?.remove ?? []) delete payload[name];
  const header = decodeProtectedHeader(ctx.body.id_token);
  ctx.body = { ...ctx.body, id_token: await sign(payload, header.kid, change, clients.get(clientId)) };
}

async function sign(payload, kid, change, client) {
  const how = change?.key ?? 'provider';
  if (how === 'none') return new UnsecuredJWT(payload).encode();
  if (how === 'client_secret') {
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', kid: change.kid ?? kid })
      .sign(new TextEncoder().encode(client.client_secret));
  }
  const jwk = how === 'foreign' ? foreignKey : signingKeys[0];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: change?.kid ?? jwk.kid })
    .sign(await importJWK(jwk, 'RS256'));
}

// A client secret JWT (Apple's): the token request's client_secret is verified against the
// client's registered key (iss = team id, sub = client id, aud = Apple's or this issuer,
// ES256 with the key's kid, not expired) and replaced by the stored secret, or by nothing,
// so the provider's own client authentication answers invalid_client.
async function checkSignedSecret(req) {
  if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return;
  const params = new URLSearchParams(await body(req));
  const signer = secretSigners.get(params.get('client_id'));
  if (signer && params.has('client_secret')) {
    let secret = '';
    try {
      const jwt = params.get('client_secret');
      if (decodeProtectedHeader(jwt).kid !== signer.key_id) throw new Error('kid');
      await jwtVerify(jwt, await importJWK(signer.jwk, 'ES256'), {
        algorithms: ['ES256'],
        issuer: signer.team_id,
        subject: params.get('client_id'),
        audience: [APPLE_AUDIENCE, issuer],
        requiredClaims: ['iat', 'exp'],
      });
      secret = clients.get(params.get('client_id')).client_secret;
    } catch (error) {
      console.error(`client secret JWT refused: ${error.message}`);
    }
    params.set('client_secret', secret);
  }
  // oidc-provider reads an already-read body from req.body.
  req.body = params.toString();
}

// ---------------------------------------------------------------- interaction pages

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>`
    + `<body><h1>${title}</h1>${body}</body></html>`;
}

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const { prompt, params, session } = details;
  if (req.method === 'GET') {
    const form = (id, label, fields = '') => `<form id="${id}" method="post" action="/interaction/${uid}/${id}">`
      + `${fields}<button type="submit">${label}</button></form>`;
    const html = prompt.name === 'login'
      ? page('Sign in', form('login', 'Sign in', '<label>Subject <input name="sub" autofocus></label>')
        + form('abort', 'Cancel'))
      : page(`Allow ${escape(params.client_id)}?`, `<p>Scopes: ${escape(params.scope)}</p>`
        + form('confirm', 'Allow') + form('abort', 'Deny'));
    return send(res, 200, html, 'text/html; charset=utf-8');
  }
  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  if (action === 'login' && prompt.name === 'login') {
    const sub = new URLSearchParams(await body(req)).get('sub') ?? '';
    if (!accounts.has(sub)) {
      return send(res, 400, `unknown subject ${JSON.stringify(sub)}: give its claims first (POST /__test/accounts)`);
    }
    return provider.interactionFinished(req, res, { login: { accountId: sub } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm' && prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return send(res, 400, `cannot ${action} at the ${prompt.name} prompt`);
}

// ---------------------------------------------------------------- the test admin API

async function admin(req, res, path) {
  if (req.method === 'GET' && path === '/__test/requests') {
    return json(res, 200, Object.fromEntries(requests));
  }
  if (req.method !== 'POST') return json(res, 405, { error: 'POST only' });
  const input = JSON.parse((await body(req)) || '{}');
  switch (path) {
    case '/__test/clients': {
      const metadata = {
        client_id: input.client_id,
        client_secret: input.client_secret,
        redirect_uris: input.redirect_uris,
        token_endpoint_auth_method: input.token_endpoint_auth_method ?? 'client_secret_basic',
      };
      if (!metadata.client_id || !Array.isArray(metadata.redirect_uris)) {
        return json(res, 400, { error: 'client_id and redirect_uris are required' });
      }
      clients.set(metadata.client_id, metadata);
      if (input.secret_signer) secretSigners.set(metadata.client_id, input.secret_signer);
      // Checked now, so a bad redirect URI fails the test that registers it, not a sign-in.
      try {
        await provider.Client.find(metadata.client_id);
      } catch (error) {
        clients.delete(metadata.client_id);
        return json(res, 400, { error: error.message, error_description: error.error_description });
      }
      return json(res, 200, metadata);
    }
    case '/__test/accounts':
      if (typeof input.sub !== 'string' || !input.sub) return json(res, 400, { error: 'sub is required' });
      accounts.set(input.sub, input.claims ?? {});
      return json(res, 200, { sub: input.sub, claims: accounts.get(input.sub) });
    case '/__test/next-id-token':
      if (!clients.has(input.client_id)) return json(res, 400, { error: 'unknown client_id' });
      if (!['provider', 'foreign', 'none', 'client_secret'].includes(input.key ?? 'provider')) {
        return json(res, 400, { error: 'key is one of provider, foreign, none, client_secret' });
      }
      tamperings.set(input.client_id, {
        claims: input.claims ?? {}, remove: input.remove ?? [], key: input.key, kid: input.kid,
      });
      return json(res, 200, {});
    case '/__test/discovery':
      discoveryOverrides = input.fields ?? {};
      return json(res, 200, discoveryOverrides);
    case '/__test/rotate': {
      const key = await newSigningKey();
      signingKeys = input.keep_old === false ? [key] : [key, ...signingKeys];
      provider = await build();
      handle = provider.callback();
      return json(res, 200, { kid: key.kid, kids: signingKeys.map((k) => k.kid) });
    }
    default:
      return json(res, 404, { error: `no ${path}` });
  }
}

// ---------------------------------------------------------------- HTTP plumbing

function body(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, text, type = 'text/plain; charset=utf-8') {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(text);
}

function json(res, status, value) {
  send(res, status, JSON.stringify(value), 'application/json');
}

const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://127.0.0.1').pathname;
  requests.set(path, (requests.get(path) ?? 0) + 1);
  try {
    if (path.startsWith('/__test/')) return await admin(req, res, path);
    if (path === '/token' && req.method === 'POST') await checkSignedSecret(req);
    const match = path.match(/^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/);
    if (match && (req.method === 'GET') === !match[2]) return await interaction(req, res, match[1], match[2]);
    return handle(req, res);
  } catch (error) {
    console.error(error);
    if (!res.headersSent) send(res, 500, `${error.name}: ${error.message}`);
    return undefined;
  }
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', async () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  provider = await build();
  handle = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
