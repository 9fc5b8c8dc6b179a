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


# For the admin schema's WebhookEvent enum.
DESCRIPTIONS = {
    USER_CREATED: "An account was made (registration, social sign-in, the admin API).",
    USER_UPDATED: "The profile changed.",
    USER_DELETED: "The account was deleted.",
    USER_DISABLED: "The admin API disabled the account.",
    USER_ENABLED: "The admin API enabled the account again.",
    EMAIL_CHANGED: "The address changed (data.previous_email: the one before).",
    PASSWORD_CHANGED: "The person changed their password.",
    PASSWORD_RESET: "A password reset was completed.",
    SESSION_CREATED: "A sign-in opened a session (any method).",
    SESSION_REVOKED: "Sessions were ended early (data.sessions: their ids).",
    TWO_FACTOR_ENABLED: "Two-factor was turned on.",
    TWO_FACTOR_DISABLED: "Two-factor was turned off.",
    PASSKEY_ADDED: "A passkey was registered.",
    PASSKEY_REMOVED: "A passkey was removed.",
    SOCIAL_IDENTITY_LINKED: "A provider identity was linked (data.identity.provider).",
    SOCIAL_IDENTITY_UNLINKED: "A provider identity was unlinked (data.identity.provider).",
}
