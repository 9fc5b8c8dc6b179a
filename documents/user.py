"""The account: one document per person, unique by lower-cased email."""

from __future__ import annotations

from datetime import UTC, datetime

from beanie import Document
from pymongo import ASCENDING, IndexModel


def utc_now() -> datetime:
    # Mongo keeps milliseconds; truncating here makes what we answer equal what we store.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class User(Document):
    # Stored lower-cased: the unique index, not a collation, makes emails case-insensitive.
    email: str
    password_hash: str
    first_name: str
    last_name: str
    phone: str | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "users"
        use_revision = False
        indexes = [IndexModel([("email", ASCENDING)], unique=True, name="email_unique")]

    async def replace_password_hash(self, password_hash: str) -> None:
        self.password_hash = password_hash
        await self.write_changes()

    async def write_changes(self) -> None:
        """Store the whole document with a fresh `updated_at`.

        A replace, never `$set`: nx-27017 stores datetimes given to `$set` as strings.
        """
        self.updated_at = utc_now()
        await self.replace()

    @classmethod
    async def by_email(cls, email: str) -> User | None:
        return await cls.find_one(cls.email == email)
