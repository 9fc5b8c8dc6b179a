"""Passkeys send their webhooks: added, removed, and a passkey sign-in's session.created
(whose access token, like every sign-in's, carries the custom-claims hook's claims)."""

from __future__ import annotations

from conftest import Mailbox, serve_app
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import data
from receiver import Arrival, Receiver, receiving
from standardwebhooks.webhooks import Webhook
from test_passkeys import REMOVE, amr, sign_in, with_passkey

from webhooks import events


async def test_a_passkey_added_used_and_removed_sends_its_events(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    receiver = Receiver()
    settings = settings_with(backend_urls, mailbox, webhook_allow_private=True, outbox_poll_seconds=0.05)
    async with receiving(receiver) as port, serve_app(settings) as (client, app):
        store = app.state.services.webhooks.endpoints
        kinds = [events.PASSKEY_ADDED, events.PASSKEY_REMOVED, events.SESSION_CREATED]
        saved = await store.create(f"http://127.0.0.1:{port}/hook", kinds)
        origin = app.state.services.settings.webauthn_rp[1][0]
        registered, authenticator, passkey = await with_passkey(client, mailbox, origin)
        user_id = registered["user"]["id"]
        signed = await sign_in(client, authenticator, registered["user"]["email"])
        assert signed["__typename"] == "AuthPayload", signed
        removed = await data(client, REMOVE, {"id": passkey["id"]}, registered["accessToken"])
        assert removed["__typename"] == "PasskeyRemoved", removed

        def mine(arrival: Arrival) -> bool:
            return arrival.json()["data"]["user"]["id"] == user_id

        arrivals = await receiver.wait_for(4, where=mine)
        bodies = [Webhook(saved.secret).verify(arrival.body, arrival.headers) for arrival in arrivals]
        by_type: dict[str, list[dict]] = {}
        for body in bodies:
            by_type.setdefault(body["type"], []).append(body)
        assert by_type[events.PASSKEY_ADDED][0]["data"]["passkey"] == {"id": passkey["id"]}
        assert by_type[events.PASSKEY_REMOVED][0]["data"]["passkey"] == {"id": passkey["id"]}
        sessions = by_type[events.SESSION_CREATED]
        assert len(sessions) == 2  # the registration's, then the passkey's
        assert sessions[-1]["data"]["amr"] == amr(signed["accessToken"])
        assert sessions[-1]["data"]["session"] == {"id": signed["sessionId"]}
