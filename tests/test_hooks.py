"""Synchronous hooks: the sign-up policy and custom claims, asked of a real HTTP service,
signed like webhooks (checked with the `standardwebhooks` library), failing closed."""

from __future__ import annotations

import time
from typing import Any

import jwt
from conftest import Mailbox, serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import COMPLETE, LOGIN, ME, PASSWORD, PROFILE, START, data, gql, new_email, password_set, register
from receiver import Arrival, Receiver, receiving
from standardwebhooks.webhooks import Webhook
from test_attacks import REFRESH

from settings import Settings
from webhooks.signing import new_secret

SECRET = new_secret()


def hooked(backend_urls: dict[str, str], mailbox: Mailbox, port: int, **overrides: Any) -> Settings:
    return settings_with(
        backend_urls,
        mailbox,
        hook_before_sign_up_url=f"http://127.0.0.1:{port}/before-sign-up",
        hook_custom_claims_url=f"http://127.0.0.1:{port}/claims",
        hook_secret=SECRET,
        **overrides,
    )


def policy(arrival: Arrival) -> dict[str, Any]:
    """Addresses at blocked.example are refused; every call must be signed."""
    body = Webhook(SECRET).verify(arrival.body, arrival.headers)
    if arrival.path == "/claims":
        return {"claims": {"tenant": "acme", "plan": body["user"]["email"].split("@")[0][:4]}}
    if body["email"].endswith("@blocked.example"):
        return {"allow": False, "message": "Sign-ups from blocked.example are closed."}
    return {"allow": True}


def unverified(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


async def test_the_sign_up_policy_allows_and_refuses(backend_urls: dict[str, str], mailbox: Mailbox) -> None:
    receiver = Receiver(status=200, answer=policy)
    async with receiving(receiver) as port, serve(hooked(backend_urls, mailbox, port)) as client:
        allowed = new_email()
        signed_up = await register(client, mailbox, allowed)
        asked = [arrival.json() for arrival in receiver.arrived if arrival.path == "/before-sign-up"]
        assert asked == [{"type": "before_sign_up", "email": allowed, "method": "password"}]

        refused = f"someone-{time.time_ns()}@blocked.example"
        answer = await data(client, START, {"email": refused})
        assert answer == {
            "__typename": "SignUpRefused",
            "message": "Sign-ups from blocked.example are closed.",
        }
        assert mailbox.received(refused) == []  # no code, no "account exists" mail
        # Asked before the address is looked up: an address with an account is asked the
        # same and answered the same way (here, allowed: it gets its "account exists" mail).
        again = await data(client, START, {"email": allowed})
        assert again["__typename"] == "RegistrationStarted"
        assert signed_up["user"]["email"] == allowed


async def test_custom_claims_are_merged_at_sign_in_and_refresh(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    receiver = Receiver(status=200, answer=policy)
    async with receiving(receiver) as port, serve(hooked(backend_urls, mailbox, port)) as client:
        email = new_email()
        signed_up = await register(client, mailbox, email)
        claims = unverified(signed_up["accessToken"])
        assert claims["tenant"] == "acme" and claims["plan"] == email[:4]
        login = await data(client, LOGIN, {"email": email, "password": PASSWORD})
        assert unverified(login["accessToken"])["tenant"] == "acme"
        refreshed = await data(client, REFRESH, {"token": login["refreshToken"]})
        assert unverified(refreshed["accessToken"])["tenant"] == "acme"
        # What the hook was shown: the user, the session, amr and the claims about to be signed.
        asked = [arrival.json() for arrival in receiver.arrived if arrival.path == "/claims"]
        last = asked[-1]
        assert last["type"] == "custom_claims" and last["user"]["id"] == signed_up["user"]["id"]
        assert last["session"] == {"id": login["sessionId"]} and last["amr"] == ["pwd"]
        assert (
            last["claims"]["sub"] == signed_up["user"]["id"] and last["claims"]["sid"] == login["sessionId"]
        )
        assert "password" not in str(asked).lower()
        # The token still passes authql's own check.
        assert (await data(client, ME, token=refreshed["accessToken"]))["email"] == email


async def test_a_hook_that_sets_a_registered_claim_fails_closed(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    email = new_email()

    def overreach(arrival: Arrival) -> dict[str, Any]:
        if arrival.path == "/claims" and arrival.json()["user"]["email"] == email:
            return {"claims": {"sub": "admin", "tenant": "acme"}}
        return policy(arrival)

    receiver = Receiver(status=200, answer=overreach)
    async with receiving(receiver) as port, serve(hooked(backend_urls, mailbox, port)) as client:
        token = await password_set(client, mailbox, email)
        body = await gql(client, COMPLETE, {"token": token, "profile": PROFILE})
        assert body["data"] is None or body["data"]["completeRegistration"] is None
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert "accessToken" not in str(body)
        body = await gql(client, LOGIN, {"email": email, "password": PASSWORD})
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_a_slow_or_failing_hook_is_answered_fast_with_service_unavailable(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    receiver = Receiver(status=200, answer=policy)
    async with receiving(receiver) as port:
        settings = hooked(backend_urls, mailbox, port, hook_timeout_seconds=0.3)
        async with serve(settings) as client:
            email = new_email()
            signed_up = await register(client, mailbox, email)
            receiver.delay = 5  # the service hangs from now on
            began = time.monotonic()
            body = await gql(client, START, {"email": new_email()})
            assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            body = await gql(client, LOGIN, {"email": email, "password": PASSWORD})
            assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert time.monotonic() - began < 2.5  # two calls, each cut at 0.3 s
            # The signed-in read is untouched by hooks.
            assert (await data(client, ME, token=signed_up["accessToken"]))["email"] == email
            receiver.delay = 0
            receiver.status = 500  # a service that fails is no better
            body = await gql(client, START, {"email": new_email()})
            assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    # Nobody listens any more: refused at once, not a sign-up past the policy.
    async with serve(hooked(backend_urls, mailbox, port)) as client:
        body = await gql(client, START, {"email": new_email()})
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
