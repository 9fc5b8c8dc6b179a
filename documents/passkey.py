"""A passkey: one WebAuthn credential of one account, unique by credential id."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from beanie import Document
from pymongo import ASCENDING, IndexModel


class Passkey(Document):
    # A string, not an ObjectId: filters on non-_id ObjectId fields fail on nx-27017.
    user_id: str
    # The credential id and its COSE public key, base64url (bytes are kept as text).
    credential_id: str
    public_key: str
    # The authenticator's signature counter at the last sign-in (0: it keeps none).
    sign_count: int = 0
    # What the authenticator said about itself: its transports (a hint for browsers), its
    # model (AAGUID, all zeros with attestation none on many), whether the credential may
    # be synced (multi-device) and whether it is backed up now.
    transports: list[str] = []
    aaguid: str = ""
    multi_device: bool = False
    backed_up: bool = False
    name: str
    created_at: datetime
    last_used_at: datetime | None = None

    async def replace_if(self, expected: Mapping[str, Any]) -> bool:
        """Store the whole document only if the stored one still holds `expected`: of two
        sign-ins racing with one credential, one moves its counter. A replace, never
        `$set`: nx-27017 stores datetimes given to `$set` as strings."""
        result = await self.get_pymongo_collection().replace_one(
            {"_id": self.id, **expected},
            self.model_dump(by_alias=True, exclude={"revision_id"}),
        )
        return result.matched_count == 1

    class Settings:
        name = "passkeys"
        use_revision = False
        indexes = [
            IndexModel([("credential_id", ASCENDING)], unique=True, name="credential_unique"),
            IndexModel([("user_id", ASCENDING)], name="user_passkeys"),
        ]
