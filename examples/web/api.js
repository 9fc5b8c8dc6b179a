// A GraphQL client for authql: plain fetch, tokens kept as the README recommends for
// browsers (access token in memory, refresh token in sessionStorage), refreshed
// shortly before the access token expires.
import { API_URL } from "./config.js";

const REFRESH_KEY = "authql.refreshToken";
const REFRESH = `mutation($token: String!) { refreshTokens(refreshToken: $token) {
  __typename ... on AuthPayload { accessToken expiresIn refreshToken } } }`;

let accessToken = null; // in memory only: a reload gets a new one from the refresh token
let refreshTimer = null;
let refreshing = null; // the one refresh in flight: a second would present a rotated-away token
let sessionEnded = () => {};

/** A top-level error (`code` is its extensions.code) or an unreachable API. */
export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** What to do, given a message for the person, when the session can no longer be
 *  refreshed (show the login). */
export function onSessionEnded(callback) {
  sessionEnded = callback;
}

async function post(query, variables, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(API_URL, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  } catch {
    // A refused CORS preflight looks exactly like a server that is down.
    throw new ApiError("NETWORK", `Cannot reach the API at ${API_URL}: is it running, and is this page's origin in its CORS_ORIGINS?`);
  }
  const body = await response.json().catch(() => null);
  if (!body) throw new ApiError("BAD_RESPONSE", `The API answered HTTP ${response.status}.`);
  const error = body.errors?.[0];
  if (error) throw new ApiError(error.extensions?.code ?? "ERROR", error.message);
  return Object.values(body.data)[0];
}

/** One root field's result, without a token (sign-up, login). */
export function call(query, variables = {}) {
  return post(query, variables, null);
}

/** One root field's result with the access token; on UNAUTHENTICATED, one refresh (at
 *  most one per call, counting the one a reloaded page needs first) and one retry, then
 *  the session is over. */
export async function callSignedIn(query, variables = {}) {
  let refreshed = !accessToken && (await refreshOrEnd());
  for (;;) {
    try {
      return await post(query, variables, accessToken);
    } catch (error) {
      if (error.code !== "UNAUTHENTICATED") throw error;
      if (refreshed) throw ended();
    }
    refreshed = await refreshOrEnd();
  }
}

async function refreshOrEnd() {
  if (!(await refresh())) throw ended();
  return true;
}

/** Keep an AuthPayload's tokens and plan the next refresh. */
export function signIn(payload) {
  accessToken = payload.accessToken;
  sessionStorage.setItem(REFRESH_KEY, payload.refreshToken);
  clearTimeout(refreshTimer);
  // A minute before expiry (half-way for short tokens); a sleeping tab that misses it
  // gets UNAUTHENTICATED and refreshes then.
  const seconds = Math.max(payload.expiresIn - 60, payload.expiresIn / 2);
  refreshTimer = setTimeout(() => refresh().then((ok) => ok || ended()).catch(() => {}), seconds * 1000);
}

/** Drop both tokens (after logout, or when the session ended). */
export function forget() {
  accessToken = null;
  sessionStorage.removeItem(REFRESH_KEY);
  clearTimeout(refreshTimer);
}

/** Whether a refresh token from earlier in this tab is kept (a reload, say). */
export function hasSession() {
  return sessionStorage.getItem(REFRESH_KEY) !== null;
}

/** Trade the refresh token for new tokens; false when there is none or it was refused. */
export function refresh() {
  refreshing ??= (async () => {
    const token = sessionStorage.getItem(REFRESH_KEY);
    if (!token) return false;
    const result = await post(REFRESH, { token }, null);
    if (result.__typename !== "AuthPayload") return false;
    signIn(result);
    return true;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function ended() {
  const error = new ApiError("SESSION_ENDED", "Your session has ended: please log in again.");
  forget();
  sessionEnded(error.message);
  return error;
}
