"""Webhook endpoints and their deliveries (webhooks/): plain models on their own
collections, read and written with pymongo like the outbox (documents/outbox.py).

Times are epoch milliseconds for the same reason as the outbox's: nx-27017 keeps a
datetime given to `$set` as a string."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, IndexModel

from documents.outbox import QUEUED

# Named after OUTBOX_COLLECTION (`outbox_webhook_endpoints`, `outbox_webhook_deliveries`):
# one deployment, one set. The deliveries' queue is the outbox's lease machinery on a
# collection of its own, so a slow endpoint's deliveries never stand in front of a mail.
ENDPOINTS_SUFFIX = "_webhook_endpoints"
DELIVERIES_SUFFIX = "_webhook_deliveries"


class WebhookEndpointRecord(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    id: ObjectId = Field(alias="_id")
    url: str
    # Event types as sent (`user.created`), not the enum's names.
    events: list[str]
    description: str | None = None
    enabled: bool = True
    created_ms: int
    # The signing secret (whsec_...), sealed by the key ring and bound to the endpoint's id.
    secret: str
    # After a rotation, the secret before it, still signing until `previous_until_ms`.
    previous_secret: str | None = None
    previous_until_ms: int = 0
    failures_in_a_row: int = 0
    last_delivery_ms: int | None = None


class WebhookDelivery(BaseModel):
    """One event for one endpoint: queued until delivered or abandoned. Its `webhook_id`
    is the `webhook-id` header of every try, so a receiver can drop a second copy."""

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    id: ObjectId = Field(alias="_id")
    state: str = QUEUED
    endpoint_id: str
    event: str
    webhook_id: str
    # The body, sealed (it names the person: an address, a name).
    sealed: str | None = None
    created_ms: int
    due_ms: int
    lease_ms: int = 0
    claimed_by: str | None = None
    attempts: int = 0
    last_error: str | None = None
    finished_ms: int | None = None
    expires_at: datetime | None = None

    class Settings:
        indexes = [
            IndexModel([("state", ASCENDING), ("due_ms", ASCENDING)], name="webhook_due"),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="webhook_expiry"),
        ]
