"""One mail in the outbox: queued until a sender delivers or abandons it (mail/outbox.py)."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, IndexModel

QUEUED = "queued"
SENT = "sent"
ABANDONED = "abandoned"


class OutboxMail(BaseModel):
    """Times are epoch milliseconds, not datetimes: claims and retries change them with
    `$set`, and nx-27017 keeps a datetime given to `$set` as a string. Only `expires_at`,
    written once with a whole replace when the mail is done, is a datetime (for the TTL).

    A plain model, not a Beanie document: the outbox reads and writes its own collection
    (OUTBOX_COLLECTION) with pymongo, so nothing binds the class to a collection."""

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    id: ObjectId = Field(alias="_id")

    state: str = QUEUED
    # Which mail (registration_code, account_exists, ...), and a keyed fingerprint of the
    # recipient, as in the security log: what an operator needs, never the address.
    template: str
    recipient: str
    # The whole mail (and what to do once it is delivered), AES-GCM sealed: it may hold a
    # live code. Deleted once the mail is sent or abandoned.
    sealed: str | None = None
    created_ms: int
    due_ms: int
    # A sender's claim: until `lease_ms` no other sender takes the mail.
    lease_ms: int = 0
    claimed_by: str | None = None
    attempts: int = 0
    last_error: str | None = None
    finished_ms: int | None = None
    # The request that queued the mail: its id is on the sender's log lines about it.
    request_id: str | None = None
    expires_at: datetime | None = None

    class Settings:
        indexes = [
            IndexModel([("state", ASCENDING), ("due_ms", ASCENDING)], name="outbox_due"),
            # Sent and abandoned records go a week after they are done; queued ones have none.
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="outbox_expiry"),
        ]
