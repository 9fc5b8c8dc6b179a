"""What the social sign-in tests share: an app configured with providers at the test
OpenID Provider and the GitHub-shaped server, and the three legs as an app and a browser
walk them (start, the provider, authql's callback, complete)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from conftest import Mailbox, serve_app
from conftest import test_settings as settings_with
from flows import AUTH, PROBLEM, RATE, data, gql
from github_provider import GitHubProvider
from oidc_provider import Client, OidcProvider
from starlette.applications import Starlette

PUBLIC_URL = "http://authql.test"
APP_REDIRECT = "https://app.example/auth/callback"
INVALID = "... on InvalidInput { fields { field message } }"

START = f"""mutation($p: ID!, $r: String!, $c: String!) {{
  startSocialSignIn(provider: $p, redirectUri: $r, codeChallenge: $c) {{ __typename
  ... on SocialSignInStarted {{ authorizationUrl expiresAt }} {PROBLEM} }} }}"""
COMPLETE = f"""mutation($t: ID!, $v: String!, $profile: ProfileInput) {{ completeSocialSignIn(ticket: $t,
  codeVerifier: $v, profile: $profile) {{ __typename {AUTH} {PROBLEM} {RATE} {INVALID}
  ... on SecondFactorRequired {{ challengeId }} }} }}"""
START_LINK = f"""mutation($p: ID!, $r: String!, $c: String!) {{ startSocialLink(provider: $p, redirectUri: $r,
  codeChallenge: $c) {{ __typename ... on SocialSignInStarted {{ authorizationUrl }} {PROBLEM} }} }}"""
COMPLETE_LINK = f"""mutation($t: ID!, $v: String!) {{ completeSocialLink(ticket: $t, codeVerifier: $v) {{
  __typename ... on SocialIdentityLinked {{ user {{ id identities {{ provider email }} }} }}
  {PROBLEM} }} }}"""
UNLINK = f"""mutation($p: ID!) {{ unlinkSocialIdentity(provider: $p) {{ __typename
  ... on SocialIdentityUnlinked {{ user {{ identities {{ provider }} hasPassword }} }} {PROBLEM} }} }}"""
ME = """query { me { id email firstName lastName hasPassword
  identities { provider email linkedAt lastUsedAt } } }"""


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def new_sub() -> str:
    return "sub-" + secrets.token_hex(8)


def new_address() -> str:
    return f"social-{secrets.token_hex(6)}@example.com"


@dataclass
class SocialApp:
    """The app under test (reached over ASGI), and the providers it is configured with:
    `acme` (OIDC, not trusted for email), `trusty` (OIDC, trusted), `gh` (GitHub), `ms`
    (the Microsoft preset)."""

    client: httpx.AsyncClient
    app: Starlette
    oidc: OidcProvider
    github: GitHubProvider
    clients: dict[str, Client]

    async def start(
        self, provider: str = "acme", token: str | None = None, link: bool = False
    ) -> tuple[str, str]:
        """startSocialSignIn (or startSocialLink): the app's verifier and the authorization URL."""
        verifier = secrets.token_urlsafe(48)
        variables = {"p": provider, "r": APP_REDIRECT, "c": challenge_of(verifier)}
        started = await data(self.client, START_LINK if link else START, variables, token)
        assert started["__typename"] == "SocialSignInStarted", started
        return verifier, started["authorizationUrl"]

    async def callback(self, provider_url: str) -> httpx.Response:
        """The browser arriving at authql's callback from the provider's redirect."""
        assert provider_url.startswith(PUBLIC_URL + "/oauth/callback/"), provider_url
        return await self.client.get(provider_url.removeprefix(PUBLIC_URL))

    async def ticket(
        self, sub: str, provider: str = "acme", token: str | None = None, link: bool = False
    ) -> tuple[str, str]:
        """The first two legs for the OIDC subject `sub` (or GitHub login): ticket and verifier."""
        verifier, url = await self.start(provider, token, link)
        if provider == "gh":
            back = await self.github.sign_in(url, sub)
        else:
            back = await self.oidc.sign_in(url, sub)
        answer = await self.callback(back)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(APP_REDIRECT + "?"), location
        found = query_of(location)
        assert "ticket" in found, location
        return found["ticket"][0], verifier

    async def complete(
        self, ticket: str, verifier: str, profile: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await data(self.client, COMPLETE, {"t": ticket, "v": verifier, "profile": profile})

    async def sign_in(
        self, sub: str, provider: str = "acme", profile: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        ticket, verifier = await self.ticket(sub, provider)
        return await self.complete(ticket, verifier, profile)

    async def me(self, token: str) -> dict[str, Any]:
        body = await gql(self.client, ME, token=token)
        assert not body.get("errors"), body
        return body["data"]["me"]


@asynccontextmanager
async def social_app(
    backend_urls: dict[str, str],
    mailbox: Mailbox,
    oidc: OidcProvider,
    github: GitHubProvider,
    **overrides: Any,
) -> AsyncIterator[SocialApp]:
    clients = {
        name: oidc.register_client(f"{PUBLIC_URL}/oauth/callback/{name}") for name in ("acme", "trusty", "ms")
    }
    gh = github.register_client(f"{PUBLIC_URL}/oauth/callback/gh")
    values: dict[str, Any] = {
        "public_url": PUBLIC_URL,
        "social_providers": "acme,trusty,gh,ms",
        "social_redirect_uris": APP_REDIRECT + ",com.example.app:/callback",
        "social_acme_type": "oidc",
        "social_acme_issuer": oidc.issuer,
        "social_acme_client_id": clients["acme"].id,
        "social_acme_client_secret": clients["acme"].secret,
        "social_acme_display_name": "Acme SSO",
        "social_trusty_type": "oidc",
        "social_trusty_issuer": oidc.issuer,
        "social_trusty_client_id": clients["trusty"].id,
        "social_trusty_client_secret": clients["trusty"].secret,
        "social_trusty_trust_email": "true",
        # The Microsoft preset's quirks, at the test provider's issuer.
        "social_ms_type": "microsoft",
        "social_ms_issuer": oidc.issuer,
        "social_ms_client_id": clients["ms"].id,
        "social_ms_client_secret": clients["ms"].secret,
        "social_gh_type": "github",
        "social_gh_issuer": github.url,
        "social_gh_api_url": github.api_url,
        "social_gh_client_id": gh.id,
        "social_gh_client_secret": gh.secret,
        **overrides,
    }
    settings = settings_with(backend_urls, mailbox, **values)
    async with serve_app(settings) as (client, app):
        yield SocialApp(client, app, oidc, github, clients)
