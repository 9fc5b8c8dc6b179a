"""The audit log: one MongoDB record per admin change (which key, what, on whom, the
field names with their values before and after, from which address, when), kept
AUDIT_RETENTION_DAYS by a TTL index, read newest first with keyset cursors.

Never a secret: callers pass field values only for fields that are not secrets (a
password, a key or a code is recorded as the fact that it was set, never its value)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

EXPIRY_INDEX = "audit_expiry"


@dataclass(frozen=True)
class AuditRecord:
    id: str
    at: datetime
    action: str
    admin_key_id: str | None
    user_id: str | None
    ip_address: str | None
    details: dict[str, Any]


class BadCursor(ValueError):
    """An `after` this server did not hand out."""


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class AuditLog:
    def __init__(self, collection: AsyncCollection[Any], *, retention_seconds: int) -> None:
        self._collection = collection
        self._retention = retention_seconds

    async def create_indexes(self) -> None:
        """The TTL index with today's retention (changed in place when the setting changed)
        and the indexes of the listing's filters."""
        for index in await (await self._collection.list_indexes()).to_list(None):
            ttl = index.get("expireAfterSeconds")
            if ttl is not None and list(index["key"]) == ["at"] and ttl != self._retention:
                await self._collection.drop_index(index["name"])  # made under another retention
        await self._collection.create_index(
            [("at", ASCENDING)], expireAfterSeconds=self._retention, name=EXPIRY_INDEX
        )
        # Not compound with _id (the tie-break of equal times): nx-27017 cannot index it so.
        await self._collection.create_index(
            [("user_id", ASCENDING), ("at", DESCENDING)], name="audit_by_user"
        )
        await self._collection.create_index(
            [("action", ASCENDING), ("at", DESCENDING)], name="audit_by_action"
        )

    async def record(
        self,
        action: str,
        *,
        admin_key_id: str | None,
        user_id: str | None,
        ip_address: str | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        await self._collection.insert_one(
            {
                "_id": ObjectId(),
                "at": _now(),
                "action": action,
                "admin_key_id": admin_key_id,
                "user_id": user_id,
                "ip_address": ip_address,
                "details": details or {},
            }
        )

    async def page(
        self, *, user_id: str | None, action: str | None, first: int, after: str | None
    ) -> tuple[list[tuple[str, AuditRecord]], bool]:
        """Up to `first` records, newest first, after the cursor `after`; each with its
        cursor, and whether more follow. Raises BadCursor."""
        query: dict[str, Any] = {}
        if user_id is not None:
            query["user_id"] = user_id
        if action is not None:
            query["action"] = action
        if after is not None:
            at, object_id = _read_cursor(after)
            query["$or"] = [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": object_id}}]
        records = (
            await self._collection.find(query)
            .sort([("at", DESCENDING), ("_id", DESCENDING)])
            .limit(first + 1)
            .to_list(None)
        )
        events = [_event(record) for record in records[:first]]
        return [(_cursor(event), event) for event in events], len(records) > first


def _event(record: dict[str, Any]) -> AuditRecord:
    at = record["at"]
    if isinstance(at, datetime) and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return AuditRecord(
        id=str(record["_id"]),
        at=at,
        action=record["action"],
        admin_key_id=record.get("admin_key_id"),
        user_id=record.get("user_id"),
        ip_address=record.get("ip_address"),
        details=record.get("details") or {},
    )


def _cursor(event: AuditRecord) -> str:
    millis = int(event.at.timestamp() * 1000)
    return base64.urlsafe_b64encode(f"{millis}:{event.id}".encode()).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime, ObjectId]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        millis, _, object_id = text.partition(":")
        return datetime.fromtimestamp(int(millis) / 1000, UTC), ObjectId(object_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, InvalidId, OverflowError, OSError):
        raise BadCursor(cursor) from None
