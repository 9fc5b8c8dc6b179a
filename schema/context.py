"""The per-request context: the caller's bearer token, checked lazily, and the
user it names, loaded at most once however many fields ask for it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from graphql import GraphQLError
from starlette.requests import Request

from schema.error_codes import ErrorCode
from security.identity import full_user, identity_for_token
from security.user_snapshot import UserSnapshot

if TYPE_CHECKING:  # named for type hints only
    from documents.user import User as UserDocument
    from security.identity import Identity
    from services import Services


class Unauthenticated(GraphQLError):
    """A protected field was asked for without a valid access token."""

    def __init__(self) -> None:
        super().__init__("A valid access token is required.", extensions={"code": ErrorCode.UNAUTHENTICATED})


@dataclass
class Context:
    request: Request
    client_ip: str | None
    # What per-IP budgets count (security.client_ip.client_bucket): the IPv4 address or
    # the IPv6 prefix of client_ip. Sessions and logs keep the full client_ip.
    client_bucket: str
    # Settings, stores and services, built once per process (services.py).
    services: Services
    _identity: asyncio.Future[Identity] | None = field(default=None, init=False, repr=False)
    _whole: Identity | None = field(default=None, init=False, repr=False)

    async def current_user(self) -> UserDocument:
        """The signed-in user, whole (never a snapshot), or Unauthenticated."""
        return (await self.identity()).user  # whole: see identity()

    async def signed_in_user(self) -> UserDocument | UserSnapshot:
        """The signed-in user as the check found it: whole, or the snapshot another process
        left in Redis (security/user_snapshot.py: the fields the user may see, no secret),
        with no MongoDB round trip. Only for reads of what `public_user` answers (`me`)."""
        return (await self.checked()).user

    async def identity(self) -> Identity:
        """The caller's identity with the whole user: read from MongoDB when the check
        found only a snapshot (once per request), so everything that checks a password, a
        second factor or a passkey, or writes the user, has the stored account."""
        if self._whole is not None:
            return self._whole
        checked = await self.checked()
        if isinstance(checked.user, UserSnapshot):
            user = await full_user(self.services.users, checked)
            if user is None:  # deleted, or its credentials changed, since the check
                raise Unauthenticated()
            checked = replace(checked, user=user)
        self._whole = checked
        return checked

    async def checked(self) -> Identity:
        """The caller's identity as checked, loaded once: by the first field that asks, itself (a task
        of its own per request cost two more turns of the event loop); fields asking
        meanwhile wait for that load."""
        while True:
            pending = self._identity
            if pending is None:
                return await self._load_once()
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this field itself was cancelled
                # the field that was loading was cancelled, not this one: load again

    async def _load_once(self) -> Identity:
        pending = self._identity = asyncio.get_running_loop().create_future()
        try:
            identity = await self._load_identity()
        except asyncio.CancelledError:
            self._identity = None
            pending.cancel()
            raise
        except Exception as error:
            pending.set_exception(error)
            pending.exception()  # retrieved: no "never retrieved" warning when nobody else waits
            raise
        pending.set_result(identity)
        return identity

    def security_event(self, event: str, *, email: str | None = None, **fields: str | int | None) -> None:
        """Log a security event with the caller's IP."""
        self.services.events.emit(event, email=email, ip=self.client_ip, **fields)

    @property
    def user_agent(self) -> str | None:
        return self.request.headers.get("user-agent")

    async def _load_identity(self) -> Identity:
        scheme, _, token = self.request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated()
        services = self.services
        identity = await identity_for_token(services.tokens, services.sessions, services.users, token.strip())
        if identity is None:
            raise Unauthenticated()
        return identity
