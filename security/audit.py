"""The audit log: one MongoDB record per admin change (which key, what, on whom, the
field names with their values before and after, from which address, when), and one per
security event of a person's own that names their account (sign-ins, failures,
logouts, password changes: security/events.py, never a secret), kept
AUDIT_RETENTION_DAYS by a TTL index, read newest first with keyset cursors.

Never a secret: callers pass field values only for fields that are not secrets (a
password, a key or a code is recorded as the fact that it was set, never its value)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from documents.user import utc_now

EXPIRY_INDEX = "audit_expiry"
logger = logging.getLogger("authql.audit")


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


# Fields of a security event that the audit record holds in its own columns, or leaves out.
EVENT_COLUMNS = ("event", "time", "user", "ip", "request_id")


class AuditLog:
    def __init__(self, collection: AsyncCollection[Any], *, retention_seconds: int) -> None:
        self._collection = collection
        self._retention = retention_seconds
        self._pending: set[asyncio.Task[None]] = set()

    def person_event(self, event: dict[str, Any]) -> None:
        """Keep a person's own security event (security/events.py: a sign-in, a failure, a
        logout; never a secret) beside the admin changes: the events that name an account,
        written off the request's path (a failed write is logged, never the request's)."""
        if "user" not in event or "admin_key" in event:  # an admin change is recorded by its mutation
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        details = {name: value for name, value in event.items() if name not in EVENT_COLUMNS}
        task = loop.create_task(
            self._keep(str(event["event"]), str(event["user"]), event.get("ip"), details)  # type: ignore[arg-type]
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _keep(self, action: str, user_id: str, ip_address: str | None, details: dict[str, Any]) -> None:
        try:
            await self.record(
                action, admin_key_id=None, user_id=user_id, ip_address=ip_address, details=details
            )
        except Exception:  # noqa: BLE001 - the request is answered already; its event is in the log
            logger.warning("audit: a security event was not kept (%s)", action, exc_info=True)

    async def drain(self) -> None:
        """Wait (briefly) for the events still being written: before MongoDB closes."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=5)

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
                "at": utc_now(),
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
