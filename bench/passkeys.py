"""Passkey sign-in, timed: accounts registered through the four steps, a passkey added to
each by tests/authenticator.py's software authenticator, then rounds of startPasskeySignIn +
finishPasskeySignIn (the assertion signed in between, as a browser would)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bench import flows
from bench.flows import call
from bench.timed import timed_rounds
from tests.authenticator import Authenticator

OPTIONS = "... on PasskeyOptions { challengeId optionsJson }"
START_REGISTRATION = f"mutation {{ startPasskeyRegistration {{ __typename {OPTIONS} }} }}"
FINISH_REGISTRATION = """mutation($c: ID!, $j: String!) { finishPasskeyRegistration(challengeId: $c,
  credentialJson: $j) { __typename } }"""
START_SIGN_IN = f"mutation {{ startPasskeySignIn {{ __typename {OPTIONS} }} }}"
FINISH_SIGN_IN = """mutation($c: ID!, $j: String!) {
  finishPasskeySignIn(challengeId: $c, credentialJson: $j) {
  __typename ... on AuthPayload { accessToken } } }"""


async def with_passkey(client: httpx.AsyncClient, sink: flows.CodeSink, origin: str) -> Authenticator:
    """A new account holding one passkey (counting, as a security key: each worker its own)."""
    token = await flows.register(client, sink, flows.new_address())
    started = flows.expect(await call(client, START_REGISTRATION, token=token), "PasskeyOptions")
    authenticator = Authenticator(origin=origin)
    credential = authenticator.create(started["optionsJson"])
    added = await call(
        client, FINISH_REGISTRATION, {"c": started["challengeId"], "j": credential}, token=token
    )
    flows.expect(added, "PasskeyAdded")
    return authenticator


async def sign_ins(
    base_url: str, sink: flows.CodeSink, *, seconds: float, concurrency: int
) -> dict[str, Any]:
    """Discoverable sign-ins (no email given), one account and authenticator per worker."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        authenticators = await asyncio.gather(
            *(with_passkey(client, sink, base_url) for _ in range(concurrency))
        )

        async def sign_in(worker: int) -> bool:
            started = await call(client, START_SIGN_IN)
            if started.get("__typename") != "PasskeyOptions":
                return False
            assertion = authenticators[worker].get(started["optionsJson"])
            finished = await call(client, FINISH_SIGN_IN, {"c": started["challengeId"], "j": assertion})
            return finished.get("__typename") == "AuthPayload"

        return await timed_rounds(sign_in, seconds=seconds, concurrency=concurrency)
