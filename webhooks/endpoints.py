"""The webhook endpoints: where events go, which ones, and the secret that signs them.

A secret is generated here, answered once (create, or update with a rotation) and kept
sealed by the key ring ("authql webhook secrets"), bound to its endpoint's id. A
rotation keeps the secret before it signing too for ROTATION_OVERLAP, so a receiver can
switch secrets without refusing a delivery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from documents.webhook import WebhookEndpointRecord
from security import clock
from security.keyring import WEBHOOK_SECRETS, KeyRing

from .addresses import shape_problem
from .events import EVENT_TYPES
from .signing import new_secret

ROTATION_OVERLAP_SECONDS = 24 * 3600
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 500


@dataclass(frozen=True)
class Saved:
    endpoint: WebhookEndpointRecord
    # The new signing secret (whsec_...), when this call made one: shown once.
    secret: str | None


class EndpointStore:
    def __init__(self, collection: AsyncCollection[Any], ring: KeyRing, *, allow_private: bool) -> None:
        self._collection = collection
        self._ring = ring
        self._allow_private = allow_private

    def problems(
        self, *, url: str | None = None, events: list[str] | None = None, description: str | None = None
    ) -> dict[str, str]:
        """Input problems by field name (empty: none)."""
        found: dict[str, str] = {}
        if url is not None:
            problem = (
                "At most 2048 characters."
                if len(url) > MAX_URL_LENGTH
                else shape_problem(url, allow_private=self._allow_private)
            )
            if problem:
                found["url"] = problem
        if events is not None:
            if not events:
                found["events"] = "At least one event."
            elif any(event not in EVENT_TYPES for event in events):
                found["events"] = "Unknown event."
        if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
            found["description"] = "At most 500 characters."
        return found

    async def create(self, url: str, events: list[str], description: str | None = None) -> Saved:
        endpoint_id = ObjectId()
        secret = new_secret()
        record = WebhookEndpointRecord(
            id=endpoint_id,
            url=url,
            events=sorted(set(events)),
            description=description,
            created_ms=clock.now_ms(),
            secret=self._seal(endpoint_id, secret),
        )
        await self._collection.insert_one(record.model_dump(by_alias=True))
        return Saved(record, secret)

    async def update(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        events: list[str] | None = None,
        enabled: bool | None = None,
        rotate_secret: bool = False,
    ) -> Saved | None:
        """The endpoint changed; None if there is none. Enabling one starts its count of
        failures in a row afresh."""
        current = await self.get(endpoint_id)
        if current is None:
            return None
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = url
        if events is not None:
            changes["events"] = sorted(set(events))
        if enabled is not None:
            changes["enabled"] = enabled
            if enabled:
                changes["failures_in_a_row"] = 0
        secret = None
        if rotate_secret:
            secret = new_secret()
            changes["secret"] = self._seal(current.id, secret)
            changes["previous_secret"] = current.secret
            changes["previous_until_ms"] = clock.now_ms() + ROTATION_OVERLAP_SECONDS * 1000
        if not changes:
            return Saved(current, None)
        found = await self._collection.find_one_and_update(
            {"_id": current.id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        return None if found is None else Saved(WebhookEndpointRecord.model_validate(found), secret)

    async def delete(self, endpoint_id: str) -> bool:
        object_id = _object_id(endpoint_id)
        if object_id is None:
            return False
        return (await self._collection.delete_one({"_id": object_id})).deleted_count == 1

    async def get(self, endpoint_id: str) -> WebhookEndpointRecord | None:
        object_id = _object_id(endpoint_id)
        found = None if object_id is None else await self._collection.find_one({"_id": object_id})
        return None if found is None else WebhookEndpointRecord.model_validate(found)

    async def all(self) -> list[WebhookEndpointRecord]:
        found = await self._collection.find({}).sort("created_ms", 1).to_list(None)
        return [WebhookEndpointRecord.model_validate(record) for record in found]

    async def subscribed(self, event: str) -> list[WebhookEndpointRecord]:
        """The enabled endpoints that take `event`."""
        found = await self._collection.find({"events": event, "enabled": True}).to_list(None)
        return [WebhookEndpointRecord.model_validate(record) for record in found]

    def signing_secrets(self, endpoint: WebhookEndpointRecord) -> list[str]:
        """The secrets that sign a delivery now: the current one, and the one before a
        rotation while its overlap lasts."""
        secrets = [self._open(endpoint.id, endpoint.secret)]
        if endpoint.previous_secret is not None and clock.now_ms() < endpoint.previous_until_ms:
            secrets.append(self._open(endpoint.id, endpoint.previous_secret))
        return secrets

    async def delivered(self, endpoint_id: str) -> None:
        await self._collection.update_one(
            {"_id": _object_id(endpoint_id)},
            {"$set": {"failures_in_a_row": 0, "last_delivery_ms": clock.now_ms()}},
        )

    async def failed(self, endpoint_id: str, disable_after: int) -> bool:
        """Count a failed delivery; True when this one disabled the endpoint."""
        found = await self._collection.find_one_and_update(
            {"_id": _object_id(endpoint_id)},
            {"$inc": {"failures_in_a_row": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if found is None or not found.get("enabled") or int(found["failures_in_a_row"]) < disable_after:
            return False
        disabled = await self._collection.update_one(
            {"_id": found["_id"], "enabled": True}, {"$set": {"enabled": False}}
        )
        return disabled.modified_count == 1

    def _seal(self, endpoint_id: ObjectId, secret: str) -> str:
        return self._ring.seal(WEBHOOK_SECRETS, secret.encode(), str(endpoint_id).encode())

    def _open(self, endpoint_id: ObjectId, sealed: str) -> str:
        return self._ring.open(WEBHOOK_SECRETS, sealed, str(endpoint_id).encode()).decode()


def _object_id(value: str) -> ObjectId | None:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None
