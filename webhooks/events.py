"""The events a webhook endpoint can subscribe to, as sent in a body's `type`: the
`WebhookEvent` enum's value lower-cased, its last `_` as `.` (`two_factor.enabled`)."""

from __future__ import annotations

USER_CREATED = "user.created"
USER_UPDATED = "user.updated"
USER_DELETED = "user.deleted"
USER_DISABLED = "user.disabled"
USER_ENABLED = "user.enabled"
EMAIL_CHANGED = "email.changed"
PASSWORD_CHANGED = "password.changed"
PASSWORD_RESET = "password.reset"
SESSION_CREATED = "session.created"
SESSION_REVOKED = "session.revoked"
TWO_FACTOR_ENABLED = "two_factor.enabled"
TWO_FACTOR_DISABLED = "two_factor.disabled"
PASSKEY_ADDED = "passkey.added"
PASSKEY_REMOVED = "passkey.removed"
SOCIAL_IDENTITY_LINKED = "social_identity.linked"
SOCIAL_IDENTITY_UNLINKED = "social_identity.unlinked"

EVENT_TYPES = (
    USER_CREATED,
    USER_UPDATED,
    USER_DELETED,
    USER_DISABLED,
    USER_ENABLED,
    EMAIL_CHANGED,
    PASSWORD_CHANGED,
    PASSWORD_RESET,
    SESSION_CREATED,
    SESSION_REVOKED,
    TWO_FACTOR_ENABLED,
    TWO_FACTOR_DISABLED,
    PASSKEY_ADDED,
    PASSKEY_REMOVED,
    SOCIAL_IDENTITY_LINKED,
    SOCIAL_IDENTITY_UNLINKED,
)


def event_type(enum_name: str) -> str:
    """`TWO_FACTOR_ENABLED` -> `two_factor.enabled`."""
    head, _, tail = enum_name.lower().rpartition("_")
    return f"{head}.{tail}"


def enum_name(event: str) -> str:
    """`two_factor.enabled` -> `TWO_FACTOR_ENABLED`."""
    return event.replace(".", "_").upper()
