"""Passkeys and social identities are each a way in for the other's removal: an account
made by social sign-in (no password) that adds a passkey may unlink its provider, and
then its last passkey is its last way in."""

from __future__ import annotations

from authenticator import Authenticator
from conftest import Mailbox
from flows import data
from social import UNLINK, SocialApp
from test_passkeys import REMOVE, add_passkey, sign_in
from test_social_linking import app, person  # noqa: F401 - the module's app fixture, reused


async def test_a_passkey_lets_a_social_account_unlink_its_provider(app: SocialApp, mailbox: Mailbox) -> None:  # noqa: F811
    signed = await app.sign_in(person(app))
    assert signed["__typename"] == "AuthPayload", signed
    token = signed["accessToken"]
    origin = app.app.state.services.settings.webauthn_rp[1][0]
    authenticator = Authenticator(origin=origin)
    passkey = await add_passkey(app.client, token, authenticator)
    unlinked = await data(app.client, UNLINK, {"p": "acme"}, token)
    assert unlinked["__typename"] == "SocialIdentityUnlinked", unlinked
    last = await data(app.client, REMOVE, {"id": passkey["id"]}, token=token)
    assert last["__typename"] == "LastSignInMethod", last
    again = await sign_in(app.client, authenticator, None)
    assert again["__typename"] == "AuthPayload" and again["user"]["id"] == signed["user"]["id"], again
