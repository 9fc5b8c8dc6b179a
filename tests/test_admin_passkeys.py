"""Passkey sign-in of an account the operator disabled: AccountDisabled once the passkey
proved the person, and the same answer with or without the address given."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from admin import ADMIN_KEY, DISABLE_USER, ENABLE_USER, USER_BY_ID, admin_data
from conftest import serve_app
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from test_passkeys import sign_in, with_passkey


@pytest.fixture(scope="module")
async def served(backend_urls, mailbox) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    async with serve_app(settings_with(backend_urls, mailbox, admin_api_key=ADMIN_KEY)) as (client, app):
        yield client, app


async def test_a_disabled_account_signing_in_by_passkey_is_answered_account_disabled(served, mailbox):
    client, app = served
    origin = app.state.services.settings.webauthn_rp[1][0]
    registered, authenticator, _ = await with_passkey(client, mailbox, origin)
    user_id, email = registered["user"]["id"], registered["user"]["email"]
    await admin_data(client, DISABLE_USER, {"id": user_id})
    for address in (email, None):
        refused = await sign_in(client, authenticator, address)
        assert refused == {"__typename": "AccountDisabled", "message": "This account is disabled."}, refused
    await admin_data(client, ENABLE_USER, {"id": user_id})
    assert (await sign_in(client, authenticator, email))["__typename"] == "AuthPayload"


async def test_the_operator_sees_a_passkey_among_the_sign_in_methods(served, mailbox):
    client, app = served
    origin = app.state.services.settings.webauthn_rp[1][0]
    registered, _, _ = await with_passkey(client, mailbox, origin)
    found = await admin_data(client, USER_BY_ID, {"id": registered["user"]["id"]})
    assert found["signInMethods"] == ["PASSWORD", "EMAIL_CODE", "PASSKEY"], found
