"""Linking a provider from inside an account and unlinking it: both need a recent sign-in
(REAUTHENTICATION_WINDOW_SECONDS over the token's `auth_time`); a link completes only for
the account that started it; an identity links to one account; the last way to sign in
cannot be unlinked, and a password reset gives a social-only account a password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from conftest import Mailbox
from flows import AUTH, PASSWORD, PROBLEM, data, gql, register
from github_provider import GitHubProvider
from oidc_provider import OidcProvider
from pymongo import AsyncMongoClient
from social import (
    APP_REDIRECT,
    COMPLETE_LINK,
    START_LINK,
    UNLINK,
    SocialApp,
    challenge_of,
    new_address,
    new_sub,
    social_app,
)

REFRESH = """mutation($t: String!) { refreshTokens(refreshToken: $t) { __typename
  ... on AuthPayload { accessToken refreshToken } } }"""
START_RESET = """mutation($email: String!) { startPasswordReset(email: $email) { __typename
  ... on PasswordResetStarted { resetId } } }"""
COMPLETE_RESET = f"""mutation($id: ID!, $code: String!, $password: String!) {{
  completePasswordReset(resetId: $id, code: $code, newPassword: $password) {{
  __typename {AUTH} {PROBLEM} }} }}"""


@pytest.fixture(scope="module")
async def app(
    backend_urls: dict[str, str],
    mailbox: Mailbox,
    oidc_provider: OidcProvider,
    github_provider: GitHubProvider,
) -> AsyncIterator[SocialApp]:
    async with social_app(backend_urls, mailbox, oidc_provider, github_provider) as social:
        yield social


def person(app: SocialApp, address: str | None = None, **claims: Any) -> str:
    values = {
        "email": address or new_address(),
        "email_verified": True,
        "given_name": "Ann",
        "family_name": "Lee",
    }
    return app.oidc.set_account(new_sub(), **{**values, **claims})


async def link(app: SocialApp, token: str, sub: str, provider: str = "acme") -> dict[str, Any]:
    ticket, verifier = await app.ticket(sub, provider, token=token, link=True)
    return await data(app.client, COMPLETE_LINK, {"t": ticket, "v": verifier}, token)


async def aged_token(
    app: SocialApp, backend_urls: dict[str, str], signed: dict[str, Any], seconds: int
) -> str:
    """An access token of the session, as if its sign-in were `seconds` ago (refreshed since)."""
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backend_urls["mongo_url"], tz_aware=True)
    try:
        sessions = mongo[app.app.state.services.settings.mongo_db]["sessions"]
        stored = await sessions.find_one({"_id": ObjectId(signed["sessionId"])})
        assert stored is not None
        stored["auth_time"] = datetime.now(UTC) - timedelta(seconds=seconds)
        await sessions.replace_one({"_id": stored["_id"]}, stored)
    finally:
        await mongo.close()
    refreshed = await data(app.client, REFRESH, {"t": signed["refreshToken"]})
    assert refreshed["__typename"] == "AuthPayload"
    return str(refreshed["accessToken"])


async def test_a_signed_in_person_links_a_provider_and_signs_in_with_it(
    app: SocialApp, mailbox: Mailbox
) -> None:
    owner = await register(app.client, mailbox)
    # The provider's address differs from the account's (and is unverified): linking from
    # inside does not depend on it.
    sub = person(app, email_verified=False)
    linked = await link(app, owner["accessToken"], sub)
    assert linked["__typename"] == "SocialIdentityLinked", linked
    assert [item["provider"] for item in linked["user"]["identities"]] == ["acme"]
    signed = await app.sign_in(sub)
    assert signed["__typename"] == "AuthPayload" and signed["user"]["id"] == owner["user"]["id"]


async def test_an_identity_links_to_one_account_only(app: SocialApp, mailbox: Mailbox) -> None:
    first = await register(app.client, mailbox)
    second = await register(app.client, mailbox)
    sub = person(app)
    assert (await link(app, first["accessToken"], sub))["__typename"] == "SocialIdentityLinked"
    taken = await link(app, second["accessToken"], sub)
    assert taken["__typename"] == "SocialIdentityTaken", taken


async def test_a_link_completes_only_for_the_account_that_started_it(
    app: SocialApp, mailbox: Mailbox
) -> None:
    """A link ticket carried to another signed-in account (a victim lured to complete it)
    links nothing, and is no sign-in ticket either."""
    attacker = await register(app.client, mailbox)
    victim = await register(app.client, mailbox)
    ticket, verifier = await app.ticket(person(app), token=attacker["accessToken"], link=True)
    other = await data(app.client, COMPLETE_LINK, {"t": ticket, "v": verifier}, victim["accessToken"])
    assert other["__typename"] == "FlowExpired"
    ticket, verifier = await app.ticket(person(app), token=attacker["accessToken"], link=True)
    assert (await app.complete(ticket, verifier))["__typename"] == "FlowExpired"
    unauthenticated = await gql(app.client, COMPLETE_LINK, {"t": ticket, "v": verifier})
    assert unauthenticated["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_linking_and_unlinking_need_a_recent_sign_in(
    app: SocialApp, mailbox: Mailbox, backend_urls: dict[str, str]
) -> None:
    owner = await register(app.client, mailbox)
    sub = person(app)
    assert (await link(app, owner["accessToken"], sub))["__typename"] == "SocialIdentityLinked"
    window = app.app.state.services.settings.reauthentication_window_seconds
    stale = await aged_token(app, backend_urls, owner, window + 60)
    variables = {"p": "acme", "r": APP_REDIRECT, "c": challenge_of("v" * 50)}
    refused = await data(app.client, START_LINK, variables, stale)
    assert refused["__typename"] == "ReauthenticationRequired", refused
    unlink = await data(app.client, UNLINK, {"p": "acme"}, stale)
    assert unlink["__typename"] == "ReauthenticationRequired", unlink
    # Signing in again (a new session) makes it recent.
    fresh = await app.sign_in(sub)
    assert (await data(app.client, UNLINK, {"p": "acme"}, fresh["accessToken"]))["__typename"] == (
        "SocialIdentityUnlinked"
    )


async def test_the_last_way_in_cannot_be_unlinked_until_a_reset_sets_a_password(
    app: SocialApp, mailbox: Mailbox
) -> None:
    address = new_address()
    signed = await app.sign_in(person(app, address))
    assert signed["__typename"] == "AuthPayload"
    last = await data(app.client, UNLINK, {"p": "acme"}, signed["accessToken"])
    assert last["__typename"] == "LastSignInMethod", last
    missing = await data(app.client, UNLINK, {"p": "gh"}, signed["accessToken"])
    assert missing["__typename"] == "NotFound"
    # The password reset by code gives the account a password ...
    started = await data(app.client, START_RESET, {"email": address})
    code = await mailbox.code_for(address)
    reset = await data(
        app.client, COMPLETE_RESET, {"id": started["resetId"], "code": code, "password": PASSWORD}
    )
    assert reset["__typename"] == "AuthPayload", reset
    assert (await app.me(reset["accessToken"]))["hasPassword"] is True
    # ... and then the identity may go.
    gone = await data(app.client, UNLINK, {"p": "acme"}, reset["accessToken"])
    assert gone["__typename"] == "SocialIdentityUnlinked", gone
    assert gone["user"] == {"identities": [], "hasPassword": True}


async def stored_identities(app: SocialApp, backend_urls: dict[str, str], user_id: str) -> int:
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backend_urls["mongo_url"])
    try:
        found = mongo[app.app.state.services.settings.mongo_db]["identities"].find({"user_id": user_id})
        return len(await found.to_list())
    finally:
        await mongo.close()


DELETE = """mutation($password: String!) { deleteAccount(password: $password) { __typename } }"""


async def test_a_deleted_accounts_identity_makes_a_new_account_not_the_old_one_back(
    app: SocialApp, mailbox: Mailbox, backend_urls: dict[str, str]
) -> None:
    owner = await register(app.client, mailbox)
    sub = person(app)
    assert (await link(app, owner["accessToken"], sub))["__typename"] == "SocialIdentityLinked"
    assert await stored_identities(app, backend_urls, owner["user"]["id"]) == 1
    deleted = await data(app.client, DELETE, {"password": PASSWORD}, owner["accessToken"])
    assert deleted["__typename"] == "AccountDeleted"
    assert await stored_identities(app, backend_urls, owner["user"]["id"]) == 0
    again = await app.sign_in(sub)
    assert again["__typename"] == "AuthPayload" and again["user"]["id"] != owner["user"]["id"]
