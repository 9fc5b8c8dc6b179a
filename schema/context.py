"""The per-request context: the caller's bearer token, checked lazily, and the
user it names, loaded at most once however many fields ask for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphql import GraphQLError
from starlette.requests import Request

if TYPE_CHECKING:  # leaf layers, named for type hints only
    from documents.user import User as UserDocument
    from mail import Mailer
    from security.codes import CodeFlows
    from security.events import SecurityEvents
    from security.identity import Identity
    from security.lockout import LoginLockout
    from security.passwords import Passwords
    from security.rate_limits import RateLimits
    from security.sessions import Sessions
    from security.tokens import Tokens
    from settings import Settings


class Unauthenticated(GraphQLError):
    """A protected field was asked for without a valid access token."""

    def __init__(self) -> None:
        super().__init__("A valid access token is required.", extensions={"code": "UNAUTHENTICATED"})


@dataclass
class Context:
    request: Request
    client_ip: str | None
    # What per-IP budgets count (security.client_ip.client_bucket): the IPv4 address or
    # the IPv6 prefix of client_ip. Sessions and logs keep the full client_ip.
    client_bucket: str
    settings: Settings
    registrations: CodeFlows
    password_resets: CodeFlows
    passwords: Passwords
    tokens: Tokens
    sessions: Sessions
    mailer: Mailer
    rate_limits: RateLimits
    lockout: LoginLockout
    events: SecurityEvents
    # Bearer token -> who it speaks for, or None when the token, session or user is not valid.
    authenticate: Callable[[str], Awaitable[Identity | None]]
    _identity: asyncio.Future[Identity] | None = field(default=None, init=False, repr=False)

    async def current_user(self) -> UserDocument:
        """The signed-in user, or Unauthenticated; one load per request."""
        return (await self.identity()).user

    async def identity(self) -> Identity:
        if self._identity is None:
            self._identity = asyncio.ensure_future(self._load_identity())
        return await asyncio.shield(self._identity)

    def security_event(self, event: str, *, email: str | None = None, **fields: str | int | None) -> None:
        """Log a security event with the caller's IP."""
        self.events.emit(event, email=email, ip=self.client_ip, **fields)

    @property
    def user_agent(self) -> str | None:
        return self.request.headers.get("user-agent")

    async def _load_identity(self) -> Identity:
        scheme, _, token = self.request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated()
        identity = await self.authenticate(token.strip())
        if identity is None:
            raise Unauthenticated()
        return identity
