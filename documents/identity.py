"""A provider identity linked to an account: the pair (provider, subject), unique.

Its own collection rather than a list on the user: the unique index on (provider,
subject) then holds across every account with one plain compound index (a unique index
over a list of sub-documents would also refuse two entries within one user's list in
ways multikey indexes make hard to reason about, and nx-27017 is not asked for that), an
identity is found by its pair without touching users, and the user's cached copy
(security/user_cache.py) does not grow with it."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pymongo import ASCENDING, IndexModel


class SocialIdentity(Document):
    provider: str
    # The provider's stable id of the person (OIDC `sub`, GitHub's numeric user id).
    subject: str
    # A string, not an ObjectId: filters on non-_id ObjectId fields fail on nx-27017.
    user_id: str
    # The address the provider gave at the last sign-in (shown to the user; never used to link).
    email: str | None = None
    linked_at: datetime
    last_used_at: datetime | None = None

    class Settings:
        name = "identities"
        use_revision = False
        indexes = [
            IndexModel(
                [("provider", ASCENDING), ("subject", ASCENDING)], name="provider_subject", unique=True
            ),
            IndexModel([("user_id", ASCENDING)], name="user_identities"),
        ]
