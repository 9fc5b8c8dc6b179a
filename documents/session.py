"""One sign-in: the refresh-token chain of one device, until it ends or is revoked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from beanie import Document
from pymongo import ASCENDING, DESCENDING, IndexModel


class Session(Document):
    # A string, not an ObjectId: filters on non-_id ObjectId fields fail on nx-27017.
    user_id: str
    # The user's credential version when the session opened (documents/user.py): once the
    # password changes, or every session is logged out, the user's moves on and this
    # session is refused.
    credential_version: int = 0
    # SHA-256 of the current refresh token; the token itself is never stored.
    refresh_hash: str
    # The token rotated away last, and when: it may still be presented once more
    # within the grace window (two tabs refreshing at once).
    previous_hash: str | None = None
    rotated_at: datetime | None = None
    # The current token's secret, sealed with the previous token (see security/sessions.py).
    sealed_current: str | None = None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None = None
    ip_address: str | None = None
    # How the user proved who they are when it opened (RFC 8176 values, e.g. ["pwd", "otp",
    # "mfa"]): every access token of the session carries it as its `amr` claim.
    amr: list[str] = []
    # When the person last proved who they are in this session (the sign-in that opened it):
    # kept across refreshes, carried as the access tokens' `auth_time`, so operations that
    # need a recent sign-in can tell (resolvers/auth/reauthentication.py). None: stored
    # before it existed, read as `created_at`.
    auth_time: datetime | None = None

    async def replace_if(self, expected: Mapping[str, Any]) -> bool:
        """Store the whole document only if the stored one still holds `expected` (field
        -> value): of two requests racing to change a session, exactly one wins.

        A replace, never `$set`: nx-27017 stores datetimes given to `$set` as strings.
        """
        result = await self.get_pymongo_collection().replace_one(
            {"_id": self.id, **expected},
            self.model_dump(by_alias=True, exclude={"revision_id"}),
        )
        return result.matched_count == 1

    class Settings:
        name = "sessions"
        use_revision = False
        indexes = [
            IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_sessions"),
            # MongoDB deletes a session once it expires; the code checks expiry too.
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="session_expiry"),
        ]
