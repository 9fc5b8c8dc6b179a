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
    from security.passwords import Passwords
    from security.tokens import Tokens
    from settings import Settings


class Unauthenticated(GraphQLError):
    """A protected field was asked for without a valid access token."""

    def __init__(self) -> None:
        super().__init__("A valid access token is required.", extensions={"code": "UNAUTHENTICATED"})


@dataclass
class Context:
    request: Request
    settings: Settings
    registrations: CodeFlows
    passwords: Passwords
    tokens: Tokens
    mailer: Mailer
    # Bearer token -> its user, or None when the token or the user is not valid.
    authenticate: Callable[[str], Awaitable[UserDocument | None]]
    _user: asyncio.Future[UserDocument] | None = field(default=None, init=False, repr=False)

    async def current_user(self) -> UserDocument:
        """The signed-in user, or Unauthenticated; one load per request."""
        if self._user is None:
            self._user = asyncio.ensure_future(self._load_user())
        return await asyncio.shield(self._user)

    async def _load_user(self) -> UserDocument:
        scheme, _, token = self.request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated()
        user = await self.authenticate(token.strip())
        if user is None:
            raise Unauthenticated()
        return user
