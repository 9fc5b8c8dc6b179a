"""Admin API keys: who may call /admin/graphql, and with which scopes.

The first key is the environment's ADMIN_API_KEY (every scope; the admin API is off
without it). Keys made with createAdminKey are random, shown once, and stored only as an
HMAC under the data-key ring's "authql admin keys" key (a key made under an older data
key still opens, checked under every key in the ring). Every request looks its key up in
MongoDB, so a revoked key (its record deleted) is refused at once by every worker: there
is no per-process copy to go stale. The admin API is an operator's back office, not a hot
path; one indexed read per request is its price.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from documents.user import utc_now
from security.keyring import ADMIN_KEYS, KeyRing

ENVIRONMENT_KEY_ID = "environment"
KEY_PREFIX = "aqk_"
# lastUsedAt is written at most this often per key: a script's burst costs one write.
LAST_USED_EVERY = timedelta(seconds=60)


class Scope(StrEnum):
    """What a key may do; each admin field names the one it needs."""

    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    SESSIONS_WRITE = "sessions:write"
    AUDIT_READ = "audit:read"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    KEYS_WRITE = "keys:write"


@dataclass(frozen=True)
class AdminKey:
    id: str
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    last_used_at: datetime | None
    from_environment: bool = False


class AdminKeys:
    """The keys: the environment's, and those in the `admin_keys` collection."""

    def __init__(self, collection: AsyncCollection[Any], ring: KeyRing, environment_key: str | None) -> None:
        self._collection = collection
        self._ring = ring
        self._environment_key = environment_key
        self._started = utc_now()

    @property
    def enabled(self) -> bool:
        return self._environment_key is not None

    async def create_indexes(self) -> None:
        await self._collection.create_index([("hash", ASCENDING)], unique=True, name="admin_key_hash")

    def environment_key(self) -> AdminKey:
        return AdminKey(
            id=ENVIRONMENT_KEY_ID,
            name="ADMIN_API_KEY",
            scopes=frozenset(Scope),
            created_at=self._started,
            last_used_at=None,
            from_environment=True,
        )

    async def authenticate(self, presented: str) -> AdminKey | None:
        """The key `presented` is, or None (unknown, revoked, or the admin API off)."""
        if self._environment_key is None or not presented:
            return None
        if hmac.compare_digest(presented.encode(), self._environment_key.encode()):
            return self.environment_key()
        if not presented.startswith(KEY_PREFIX) or len(presented) > 200:
            return None
        hashes = [self._hash(key, presented) for _, key in self._ring.derived(ADMIN_KEYS)]
        record = await self._collection.find_one({"hash": {"$in": hashes}})
        if record is None:
            return None
        key = _key(record)
        if key.last_used_at is None or utc_now() - key.last_used_at >= LAST_USED_EVERY:
            await self._collection.update_one(
                {"_id": record["_id"]}, {"$currentDate": {"last_used_at": True}}
            )
        return key

    async def create(self, name: str, scopes: frozenset[Scope]) -> tuple[AdminKey, str]:
        """A new key and its secret, which is not kept."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        record = {
            "_id": ObjectId(),
            "name": name,
            "hash": self._hash(self._ring.derive(ADMIN_KEYS), secret),
            "scopes": sorted(scope.value for scope in scopes),
            "created_at": utc_now(),
            "last_used_at": None,
        }
        await self._collection.insert_one(record)
        return _key(record), secret

    async def revoke(self, key_id: str) -> AdminKey | None:
        """Delete the key: its next request, on any worker, is refused. None if unknown."""
        try:
            object_id = ObjectId(key_id)
        except (InvalidId, TypeError):
            return None
        record = await self._collection.find_one_and_delete({"_id": object_id})
        return None if record is None else _key(record)

    async def all(self) -> list[AdminKey]:
        records = await self._collection.find({}).sort("_id", ASCENDING).to_list(None)
        return [self.environment_key(), *(_key(record) for record in records)]

    @staticmethod
    def _hash(key: bytes, secret: str) -> str:
        return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def _key(record: dict[str, Any]) -> AdminKey:
    return AdminKey(
        id=str(record["_id"]),
        name=record["name"],
        scopes=frozenset(Scope(value) for value in record["scopes"] if value in Scope._value2member_map_),
        created_at=_utc(record["created_at"]),
        last_used_at=_utc(record.get("last_used_at")),
    )


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
