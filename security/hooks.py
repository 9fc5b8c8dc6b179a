"""Synchronous hooks: the operator's service asked during a request, failing closed.

- before sign-up (HOOK_BEFORE_SIGN_UP_URL): `{"type": "before_sign_up", "email", "method"}`
  answered `{"allow": true}` or `{"allow": false, "message": "..."}`; asked before the
  address is looked up, so the answer says nothing about existing accounts.
- custom claims (HOOK_CUSTOM_CLAIMS_URL): `{"type": "custom_claims", "user", "session",
  "amr", "claims"}` answered `{"claims": {...}}`, merged into the access token about to
  be issued (sign-in and refresh). A registered claim in the answer fails the hook.

Each call is a POST signed like a webhook (Standard Webhooks headers, HOOK_SECRET) and
must answer within HOOK_TIMEOUT_SECONDS. A hook that is late, unreachable, answers
other than 200 or answers nonsense raises HookFailed: the request answers
SERVICE_UNAVAILABLE (schema/errors.py), never a sign-up past the policy nor a token
without its claims. One httpx client per process, kept alive between calls."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx2

import metrics
from webhooks.signing import message_id, signed_headers

logger = logging.getLogger("authql.hooks")

# Claims a hook may not set: the JWT's own, the session's, and those authql sets itself.
REGISTERED_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "nbf",
        "iat",
        "jti",
        "sid",
        "amr",
        "auth_time",
        "roles",
        "app_metadata",
        "cv",
    }
)
ANSWER_BYTES = 16 * 1024
MESSAGE_CHARACTERS = 300
DEFAULT_REFUSAL = "Sign-up is not open to this address."


class HookFailed(Exception):
    """A hook failed or was late: the request answers SERVICE_UNAVAILABLE."""


class Hooks:
    def __init__(
        self,
        client: httpx2.AsyncClient,
        *,
        before_sign_up_url: str | None,
        custom_claims_url: str | None,
        secret: str | None,
        timeout_seconds: float,
    ) -> None:
        self._client = client
        self._before_sign_up_url = before_sign_up_url
        self._custom_claims_url = custom_claims_url
        self._secret = secret
        self._timeout = timeout_seconds

    @property
    def asks_custom_claims(self) -> bool:
        return self._custom_claims_url is not None

    async def before_sign_up(self, email: str, method: str) -> str | None:
        """None if `email` may sign up by `method` ("password", "social", "invite"), else
        the message the person sees. No hook configured: always None."""
        if self._before_sign_up_url is None:
            return None
        answer = await self._call(
            "before_sign_up",
            self._before_sign_up_url,
            {"type": "before_sign_up", "email": email, "method": method},
        )
        allow = answer.get("allow")
        if allow is True:
            return None
        if allow is not False:
            raise self._failed("before_sign_up", "the answer has no boolean `allow`")
        message = answer.get("message")
        if not isinstance(message, str) or not message.strip():
            return DEFAULT_REFUSAL
        return message.strip()[:MESSAGE_CHARACTERS]

    async def custom_claims(
        self, user: dict[str, Any], session_id: str, amr: list[str], claims: dict[str, Any]
    ) -> dict[str, Any]:
        """The claims the hook adds to the token described by `claims`."""
        if self._custom_claims_url is None:
            return {}
        answer = await self._call(
            "custom_claims",
            self._custom_claims_url,
            {
                "type": "custom_claims",
                "user": user,
                "session": {"id": session_id},
                "amr": amr,
                "claims": claims,
            },
        )
        added = answer.get("claims", {})
        if not isinstance(added, dict):
            raise self._failed("custom_claims", "`claims` is not an object")
        registered = sorted(REGISTERED_CLAIMS.intersection(added))
        if registered:
            raise self._failed("custom_claims", f"the answer sets registered claims {registered}")
        return added

    async def _call(self, hook: str, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        assert self._secret is not None  # settings: a hook URL needs HOOK_SECRET
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        headers = signed_headers([self._secret], message_id(), body)
        try:
            async with asyncio.timeout(self._timeout):
                async with self._client.stream(
                    "POST", url, content=body, headers=headers, follow_redirects=False
                ) as response:
                    raw = b""
                    async for chunk in response.aiter_bytes():
                        raw += chunk
                        if len(raw) > ANSWER_BYTES:
                            raise self._failed(hook, "the answer is too long")
        except TimeoutError:
            raise self._failed(hook, f"no answer within {self._timeout:g} s") from None
        except httpx2.HTTPError as error:
            raise self._failed(hook, f"request failed: {type(error).__name__}") from None
        if response.status_code != 200:
            raise self._failed(hook, f"answered {response.status_code}")
        try:
            answer = json.loads(raw)
        except ValueError:
            raise self._failed(hook, "the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise self._failed(hook, "the answer is not a JSON object")
        return answer

    def _failed(self, hook: str, why: str) -> HookFailed:
        metrics.HOOK_FAILURES.labels(hook).inc()
        logger.warning("hook %s failed: %s", hook, why)
        return HookFailed(f"{hook}: {why}")
