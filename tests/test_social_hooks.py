"""Social sign-in meets the hooks and webhooks: a new account from a provider is asked of
the sign-up policy (SignUpRefused), and makes `user.created` and
`social_identity.linked`; a link and an unlink by the person send theirs."""

from __future__ import annotations

from typing import Any

from conftest import Mailbox
from flows import data, register
from github_provider import GitHubProvider
from oidc_provider import OidcProvider
from receiver import Arrival, Receiver, receiving
from social import COMPLETE_LINK, UNLINK, new_address, new_sub, social_app
from standardwebhooks.webhooks import Webhook

from webhooks import events
from webhooks.signing import new_secret

SECRET = new_secret()


def policy(arrival: Arrival) -> dict[str, Any] | None:
    if arrival.path != "/before-sign-up":
        return None  # a webhook: any 2xx
    body = Webhook(SECRET).verify(arrival.body, arrival.headers)
    assert body["method"] in ("password", "social")
    return {"allow": not body["email"].startswith("blocked-"), "message": "Not this one."}


async def test_social_sign_up_asks_the_policy_and_sends_events(
    backend_urls: dict[str, str],
    mailbox: Mailbox,
    oidc_provider: OidcProvider,
    github_provider: GitHubProvider,
) -> None:
    receiver = Receiver(status=200, answer=policy)
    async with receiving(receiver) as port:
        hooks = {
            "hook_before_sign_up_url": f"http://127.0.0.1:{port}/before-sign-up",
            "hook_secret": SECRET,
            "webhook_allow_private": True,
            "outbox_poll_seconds": 0.05,
        }
        async with social_app(backend_urls, mailbox, oidc_provider, github_provider, **hooks) as app:
            store = app.app.state.services.webhooks.endpoints
            saved = await store.create(f"http://127.0.0.1:{port}/webhook", list(events.EVENT_TYPES))

            def person(address: str) -> str:
                return app.oidc.set_account(
                    new_sub(), email=address, email_verified=True, given_name="Ada", family_name="L"
                )

            refused = await app.sign_in(person("blocked-" + new_address()))
            assert refused == {"__typename": "SignUpRefused", "message": "Not this one."}

            signed = await app.sign_in(person(new_address()))
            assert signed["__typename"] == "AuthPayload", signed
            user_id = signed["user"]["id"]

            # A password account links and unlinks a provider identity.
            local = await register(app.client, mailbox)
            token = local["accessToken"]
            ticket, verifier = await app.ticket(person(new_address()), token=token, link=True)
            linked = await data(app.client, COMPLETE_LINK, {"t": ticket, "v": verifier}, token)
            assert linked["__typename"] == "SocialIdentityLinked", linked
            unlinked = await data(app.client, UNLINK, {"p": "acme"}, token)
            assert unlinked["__typename"] == "SocialIdentityUnlinked", unlinked

            def kinds(owner: str, count: int) -> list[str]:
                return [body["type"] for body in bodies if body["data"]["user"]["id"] == owner][:count]

            await receiver.wait_for(7, where=lambda arrival: arrival.path == "/webhook")
            webhooks = [arrival for arrival in receiver.arrived if arrival.path == "/webhook"]
            bodies = [Webhook(saved.secret).verify(arrival.body, arrival.headers) for arrival in webhooks]
            assert sorted(kinds(user_id, 3)) == ["session.created", "social_identity.linked", "user.created"]
            linked_events = [body for body in bodies if body["data"]["user"]["id"] == local["user"]["id"]]
            assert [body["type"] for body in linked_events][-2:] == [
                "social_identity.linked",
                "social_identity.unlinked",
            ]
            assert linked_events[-1]["data"]["identity"] == {"provider": "acme"}
            assert all(body["data"]["user"]["email"].startswith("blocked-") is False for body in bodies)
