"""Social sign-in, timed against the tests' OpenID Provider (panva's oidc-provider, run by
tests/oidc_provider.py): each round is the app's start, the person at the provider, the
browser at authql's callback (which exchanges the code) and completeSocialSignIn; the
completion alone is timed beside the whole round. Each worker is one provider subject: its
first round makes the account, the others sign in by the linked identity."""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from bench.flows import call
from bench.timed import percentiles, timed_rounds

TESTS = Path(__file__).resolve().parent.parent / "tests"
PROVIDER = "bench"
APP_REDIRECT = "https://app.example/auth/callback"
START = """mutation($p: ID!, $r: String!, $c: String!) {
  startSocialSignIn(provider: $p, redirectUri: $r, codeChallenge: $c) {
  __typename ... on SocialSignInStarted { authorizationUrl } } }"""
COMPLETE = """mutation($t: ID!, $v: String!) { completeSocialSignIn(ticket: $t, codeVerifier: $v) {
  __typename ... on AuthPayload { accessToken } } }"""


@contextmanager
def provider(log: Path) -> Iterator[Any]:
    """The tests' OpenID Provider running (its npm packages installed on first use)."""
    if str(TESTS) not in sys.path:
        sys.path.append(str(TESTS))  # tests/oidc_provider.py imports its sibling `npm`
    from oidc_provider import OidcProvider  # noqa: PLC0415

    with OidcProvider.running(log) as running:
        yield running


def settings(issuer: str, client_id: str, client_secret: str) -> dict[str, str]:
    """authql's environment for one OIDC provider `bench` at `issuer`."""
    return {
        "SOCIAL_PROVIDERS": PROVIDER,
        "SOCIAL_REDIRECT_URIS": APP_REDIRECT,
        "SOCIAL_BENCH_TYPE": "oidc",
        "SOCIAL_BENCH_ISSUER": issuer,
        "SOCIAL_BENCH_CLIENT_ID": client_id,
        "SOCIAL_BENCH_CLIENT_SECRET": client_secret,
    }


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


async def sign_ins(
    base_url: str, oidc: Any, *, seconds: float, concurrency: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Whole rounds, and the completion step alone (its ok/bad counted with the rounds')."""
    subjects = [f"bench-{secrets.token_hex(8)}" for _ in range(concurrency)]
    for subject in subjects:
        oidc.set_account(
            subject,
            email=f"{subject}@example.com",
            email_verified=True,
            given_name="Bench",
            family_name="Social",
        )
    completions: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def sign_in(worker: int) -> bool:
            verifier = secrets.token_urlsafe(48)
            started = await call(
                client, START, {"p": PROVIDER, "r": APP_REDIRECT, "c": challenge_of(verifier)}
            )
            if started.get("__typename") != "SocialSignInStarted":
                return False
            back = await oidc.sign_in(started["authorizationUrl"], subjects[worker])
            if not back.startswith(base_url + "/"):
                return False
            answer = await client.get(back.removeprefix(base_url))
            tickets = parse_qs(urlsplit(answer.headers.get("location", "")).query).get("ticket")
            if answer.status_code != 302 or not tickets:
                return False
            began = time.perf_counter()
            completed = await call(client, COMPLETE, {"t": tickets[0], "v": verifier})
            good = completed.get("__typename") == "AuthPayload"
            if good:
                completions.append(1000 * (time.perf_counter() - began))
            return good

        rounds = await timed_rounds(sign_in, seconds=seconds, concurrency=concurrency)
    completion = {**rounds, **percentiles(completions)}
    return rounds, completion
