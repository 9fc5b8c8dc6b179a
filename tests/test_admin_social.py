"""Social sign-in of an account the operator disabled: AccountDisabled once the provider
proved the person (a real OpenID Provider), and the account's sessions end at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from admin import ADMIN_KEY, DISABLE_USER, ENABLE_USER, USER_BY_ID, admin_data
from conftest import Mailbox
from flows import ME, gql
from github_provider import GitHubProvider
from oidc_provider import OidcProvider
from social import SocialApp, new_address, new_sub, social_app


@pytest.fixture(scope="module")
async def app(
    backend_urls: dict[str, str],
    mailbox: Mailbox,
    oidc_provider: OidcProvider,
    github_provider: GitHubProvider,
) -> AsyncIterator[SocialApp]:
    async with social_app(
        backend_urls, mailbox, oidc_provider, github_provider, admin_api_key=ADMIN_KEY
    ) as social:
        yield social


async def test_a_disabled_account_signing_in_socially_is_answered_account_disabled(app: SocialApp):
    sub = app.oidc.set_account(
        new_sub(), email=new_address(), email_verified=True, given_name="Grace", family_name="Hopper"
    )
    signed = await app.sign_in(sub)
    assert signed["__typename"] == "AuthPayload", signed
    await admin_data(app.client, DISABLE_USER, {"id": signed["user"]["id"]})
    body = await gql(app.client, ME, token=signed["accessToken"])
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    refused = await app.sign_in(sub)
    assert refused == {"__typename": "AccountDisabled", "message": "This account is disabled."}
    await admin_data(app.client, ENABLE_USER, {"id": signed["user"]["id"]})
    assert (await app.sign_in(sub))["__typename"] == "AuthPayload"


async def test_the_operator_sees_a_social_only_account_sign_in_methods(app: SocialApp):
    sub = app.oidc.set_account(
        new_sub(), email=new_address(), email_verified=True, given_name="Ada", family_name="Lovelace"
    )
    signed = await app.sign_in(sub)
    found = await admin_data(app.client, USER_BY_ID, {"id": signed["user"]["id"]})
    assert found["signInMethods"] == ["EMAIL_CODE", "SOCIAL"], found
