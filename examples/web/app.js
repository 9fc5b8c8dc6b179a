// The page: four-step sign-up, login, social sign-in, profile, sessions and logout against authql.
import * as api from "./api.js";

const USER = "email firstName lastName phone";
const PROBLEM = "... on Problem { message }";
const RATE = "... on RateLimited { retryAfterSeconds }";
const INVALID = "... on InvalidInput { fields { field message } }";
const AUTH = `... on AuthPayload { accessToken expiresIn refreshToken user { ${USER} } }`;

const START = `mutation($email: String!) { startRegistration(email: $email) {
  __typename ... on RegistrationStarted { registrationId } ${PROBLEM} ${RATE} ${INVALID} } }`;
const RESEND = `mutation($id: ID!) { resendRegistrationCode(registrationId: $id) {
  __typename ${PROBLEM} ${RATE} } }`;
const VERIFY = `mutation($id: ID!, $code: String!) { verifyRegistrationCode(registrationId: $id, code: $code) {
  __typename ... on RegistrationVerified { registrationToken } ${PROBLEM} ${RATE} } }`;
const SET_PASSWORD = `mutation($token: String!, $password: String!) {
  setRegistrationPassword(registrationToken: $token, password: $password) {
  __typename ${PROBLEM} ${RATE} ... on WeakPassword { reasons } } }`;
const COMPLETE = `mutation($token: String!, $profile: ProfileInput!) {
  completeRegistration(registrationToken: $token, profile: $profile) { __typename ${AUTH} ${PROBLEM} ${INVALID} } }`;
const LOGIN = `mutation($email: String!, $password: String!) { login(email: $email, password: $password) {
  __typename ${AUTH} ${PROBLEM} ${RATE} } }`;
const ME = `query { me { ${USER} } }`;
const UPDATE_PROFILE = `mutation($input: ProfileUpdateInput!) { updateProfile(input: $input) {
  __typename ... on ProfileUpdated { user { ${USER} } } ${PROBLEM} ${INVALID} } }`;
const SESSIONS = "query { sessions { id current createdAt lastUsedAt userAgent ipAddress } }";
const REVOKE = `mutation($id: ID!) { revokeSession(id: $id) { __typename ${PROBLEM} } }`;
const LOGOUT = "mutation { logout { revokedSessions } }";
const PASSKEY_OPTIONS = "... on PasskeyOptions { challengeId optionsJson }";
const START_PASSKEY_SIGN_IN = `mutation { startPasskeySignIn { __typename ${PASSKEY_OPTIONS} ${PROBLEM} ${RATE} } }`;
const FINISH_PASSKEY_SIGN_IN = `mutation($id: ID!, $credential: String!) {
  finishPasskeySignIn(challengeId: $id, credentialJson: $credential) { __typename ${AUTH} ${PROBLEM} ${RATE} } }`;
const START_PASSKEY_REGISTRATION = `mutation { startPasskeyRegistration {
  __typename ${PASSKEY_OPTIONS} ${PROBLEM} ${RATE} } }`;
const FINISH_PASSKEY_REGISTRATION = `mutation($id: ID!, $credential: String!) {
  finishPasskeyRegistration(challengeId: $id, credentialJson: $credential) {
  __typename ... on PasskeyAdded { passkey { name } } ${PROBLEM} ${INVALID} ${RATE} } }`;
const PASSKEYS = "query { me { passkeys { id name createdAt backedUp } } }";
const PROVIDERS = "query { socialProviders { id displayName } }";
const START_SOCIAL = `mutation($provider: ID!, $redirectUri: String!, $codeChallenge: String!) {
  startSocialSignIn(provider: $provider, redirectUri: $redirectUri, codeChallenge: $codeChallenge) {
  __typename ... on SocialSignInStarted { authorizationUrl } ${PROBLEM} ${RATE} } }`;
const COMPLETE_SOCIAL = `mutation($ticket: ID!, $codeVerifier: String!) {
  completeSocialSignIn(ticket: $ticket, codeVerifier: $codeVerifier) { __typename ${AUTH} ${PROBLEM} ${RATE} ${INVALID} } }`;
// The app's own PKCE verifier for a social sign-in, kept in this tab until the provider
// sends the browser back: authql's ticket is worth nothing without it.
const VERIFIER_KEY = "authql.socialVerifier";
// This page is the callback: one of the server's SOCIAL_REDIRECT_URIS, exactly.
const REDIRECT_URI = `${location.origin}${location.pathname}`;

const $ = (id) => document.getElementById(id);
const registration = { id: null, token: null };

/** A union member other than the one hoped for, as a sentence for the person. */
class Refused extends Error {
  constructor(result) {
    super(describe(result));
    this.retryAfterSeconds = result.retryAfterSeconds;
  }
}

function describe(result) {
  if (result.retryAfterSeconds !== undefined) return `Too many attempts: try again in ${result.retryAfterSeconds} s.`;
  if (result.fields) return result.fields.map((problem) => `${problem.field}: ${problem.message}`).join(" ");
  if (result.reasons) return [result.message, ...result.reasons].join(" ");
  return result.message;
}

function expect(result, typename) {
  if (result.__typename !== typename) throw new Refused(result);
  return result;
}

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").classList.toggle("error", isError);
}

/** Run `action` for a click or submit: the button waits, and what went wrong is shown. */
async function perform(button, action) {
  button.disabled = true;
  say("");
  let wait = 0;
  try {
    await action();
  } catch (error) {
    say(error.message, true);
    wait = error.retryAfterSeconds ?? 0;
  } finally {
    // A rate-limited button stays off until the server would answer again.
    setTimeout(() => (button.disabled = false), wait * 1000);
  }
}

function onSubmit(id, action) {
  const form = $(id);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    perform(event.submitter ?? form.querySelector("button"), () => action(new FormData(form)));
  });
}

function onClick(id, action) {
  $(id).addEventListener("click", (event) => perform(event.currentTarget, action));
}

function signUpStep(id) {
  for (const step of ["start", "verify", "password", "complete"]) $(step).hidden = step !== id;
  $(id).querySelector("input").focus();
}

function showSignedOut() {
  $("account").hidden = true;
  $("signed-out").hidden = false;
  $("sessions").replaceChildren();
  $("passkeys").replaceChildren();
}

function showUser(user) {
  $("user-email").textContent = user.email;
  $("user-name").textContent = `${user.firstName} ${user.lastName}`;
  $("user-phone").textContent = user.phone ?? "none";
  const form = $("profile");
  form.firstName.value = user.firstName;
  form.lastName.value = user.lastName;
  form.phone.value = user.phone ?? "";
  $("signed-out").hidden = true;
  $("account").hidden = false;
}

function showPasskeys(passkeys) {
  $("passkeys").replaceChildren(
    ...passkeys.map((passkey) => {
      const item = document.createElement("li");
      const since = new Date(passkey.createdAt).toLocaleDateString();
      item.textContent = `${passkey.name}${passkey.backedUp ? " (synced)" : ""}, added ${since}`;
      return item;
    }),
  );
}

function signedIn(payload) {
  api.signIn(payload);
  for (const form of document.querySelectorAll("#signed-out form")) form.reset();
  signUpStep("start");
  showUser(payload.user);
  say(`Signed in as ${payload.user.email}.`);
}

function showSessions(sessions) {
  $("sessions").replaceChildren(
    ...sessions.map((session) => {
      const item = document.createElement("li");
      const text = document.createElement("span");
      const since = new Date(session.createdAt).toLocaleString();
      const where = `${session.userAgent ?? "unknown browser"} at ${session.ipAddress ?? "unknown address"}`;
      text.textContent = `${session.current ? "This browser" : where}, since ${since}`;
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.textContent = "Revoke";
      revoke.setAttribute("aria-label", `Revoke: ${text.textContent}`);
      revoke.addEventListener("click", () => perform(revoke, () => revokeSession(session)));
      item.append(text, revoke);
      return item;
    }),
  );
}

async function revokeSession(session) {
  expect(await api.callSignedIn(REVOKE, { id: session.id }), "SessionRevoked");
  if (session.current) {
    api.forget();
    showSignedOut();
    say("This session was revoked: you are logged out.");
  } else {
    showSessions(await api.callSignedIn(SESSIONS));
    say("Session revoked.");
  }
}

onSubmit("start", async (form) => {
  const started = expect(await api.call(START, { email: form.get("email") }), "RegistrationStarted");
  registration.id = started.registrationId;
  $("password").username.value = form.get("email");
  signUpStep("verify");
  say("We mailed you a code.");
});

onClick("resend", async () => {
  expect(await api.call(RESEND, { id: registration.id }), "RegistrationCodeSent");
  say("We mailed you a new code.");
});

onSubmit("verify", async (form) => {
  const verified = await api.call(VERIFY, { id: registration.id, code: form.get("code").trim() });
  registration.token = expect(verified, "RegistrationVerified").registrationToken;
  signUpStep("password");
});

onSubmit("password", async (form) => {
  const set = await api.call(SET_PASSWORD, { token: registration.token, password: form.get("password") });
  expect(set, "RegistrationPasswordSet");
  signUpStep("complete");
});

onSubmit("complete", async (form) => {
  const profile = { firstName: form.get("firstName"), lastName: form.get("lastName"), phone: form.get("phone") || null };
  signedIn(expect(await api.call(COMPLETE, { token: registration.token, profile }), "AuthPayload"));
});

onSubmit("login", async (form) => {
  const email = form.get("email");
  signedIn(expect(await api.call(LOGIN, { email, password: form.get("password") }), "AuthPayload"));
});

// Passkeys: the options are WebAuthn Level 3 JSON, the browser parses them and answers
// the credential's toJSON(), sent back as a string.
onClick("passkey-sign-in", async () => {
  const started = expect(await api.call(START_PASSKEY_SIGN_IN), "PasskeyOptions");
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(JSON.parse(started.optionsJson));
  const credential = await navigator.credentials.get({ publicKey });
  const variables = { id: started.challengeId, credential: JSON.stringify(credential.toJSON()) };
  signedIn(expect(await api.call(FINISH_PASSKEY_SIGN_IN, variables), "AuthPayload"));
});

onClick("add-passkey", async () => {
  // ReauthenticationRequired (a session signed in long ago) says to sign in again.
  const started = expect(await api.callSignedIn(START_PASSKEY_REGISTRATION), "PasskeyOptions");
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(JSON.parse(started.optionsJson));
  const credential = await navigator.credentials.create({ publicKey });
  const variables = { id: started.challengeId, credential: JSON.stringify(credential.toJSON()) };
  const added = expect(await api.callSignedIn(FINISH_PASSKEY_REGISTRATION, variables), "PasskeyAdded");
  showPasskeys((await api.callSignedIn(PASSKEYS)).passkeys);
  say(`Passkey added: ${added.passkey.name}.`);
});

onSubmit("profile", async (form) => {
  // An empty phone clears it.
  const input = { firstName: form.get("firstName"), lastName: form.get("lastName"), phone: form.get("phone") };
  showUser(expect(await api.callSignedIn(UPDATE_PROFILE, { input }), "ProfileUpdated").user);
  say("Profile saved.");
});

onClick("show-sessions", async () => showSessions(await api.callSignedIn(SESSIONS)));

onClick("logout", async () => {
  try {
    await api.callSignedIn(LOGOUT);
  } finally {
    api.forget();
    showSignedOut();
  }
  say("You are logged out.");
});

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function showProviders() {
  const providers = await api.call(PROVIDERS);
  $("social").replaceChildren(
    ...providers.map((provider) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `Continue with ${provider.displayName}`;
      button.addEventListener("click", () => perform(button, () => startSocialSignIn(provider.id)));
      return button;
    }),
  );
}

async function startSocialSignIn(provider) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const codeChallenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const started = await api.call(START_SOCIAL, { provider, redirectUri: REDIRECT_URI, codeChallenge });
  expect(started, "SocialSignInStarted");
  sessionStorage.setItem(VERIFIER_KEY, verifier);
  location.assign(started.authorizationUrl);
}

/** Back from the provider through authql with ?ticket= (or ?error=). */
async function finishSocialSignIn(params) {
  history.replaceState(null, "", REDIRECT_URI); // the ticket leaves the address bar and history
  const verifier = sessionStorage.getItem(VERIFIER_KEY);
  sessionStorage.removeItem(VERIFIER_KEY);
  if (params.has("error")) throw new Error(`The sign-in with the provider did not finish (${params.get("error")}).`);
  if (!verifier) throw new Error("This sign-in was not started in this tab: start again.");
  const result = await api.call(COMPLETE_SOCIAL, { ticket: params.get("ticket"), codeVerifier: verifier });
  signedIn(expect(result, "AuthPayload"));
}

api.onSessionEnded((message) => {
  showSignedOut();
  say(message, true);
});

const back = new URLSearchParams(location.search);
if (back.has("ticket") || back.has("error")) {
  showSignedOut();
  finishSocialSignIn(back).catch((error) => say(error.message, true));
} else if (api.hasSession()) {
  // A reload keeps the session: the refresh token in sessionStorage buys a new access token.
  api.callSignedIn(ME).then(showUser, (error) => {
    showSignedOut();
    say(error.message, true);
  });
} else {
  showSignedOut();
}
// A server without social sign-in (or unreachable) shows no buttons.
showProviders().catch(() => {});
