"""The signed-in user as other processes may read it from Redis: what `me` answers and the
credential version the hot path compares, and nothing a sign-in or a second factor checks.

A process that has not kept the user itself (behind a load balancer without sticky sessions,
most of them) gets this snapshot from the same script call as the session check
(security/user_cache.py) instead of reading MongoDB. It is a type of its own, never a
`User`: no password hash, sealed TOTP secret, recovery codes or passkey data is in it, so
nothing that checks those can be handed one (schema/context.py: `current_user()` always
answers a full `User`, loaded from MongoDB when the request's check found only a snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from beanie import PydanticObjectId

from documents.user import User

# A snapshot larger than this (long names, many roles) is not written: the user is read
# from MongoDB as before. A usual one is about 300 bytes.
MAX_BYTES = 2048
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Unreadable(ValueError):
    """Not a snapshot this version wrote: treated as none."""


@dataclass(frozen=True, slots=True)
class UserSnapshot:
    """The public fields of a user (schema/user.py's User) and its credential version."""

    id: PydanticObjectId
    email: str
    first_name: str
    last_name: str
    phone: str | None
    created_at: datetime
    updated_at: datetime
    credential_version: int
    two_factor_enabled: bool
    recovery_codes_left: int
    has_password: bool
    roles: tuple[str, ...]


def snapshot_of(user: User) -> bytes | None:
    """The compact form of `user` (JSON by orjson), or None when larger than MAX_BYTES."""
    encoded = orjson.dumps(
        [
            1,  # the layout's version: another layout reads as none
            str(user.id),
            user.email,
            user.first_name,
            user.last_name,
            user.phone,
            _millis(user.created_at),
            _millis(user.updated_at),
            user.credential_version,
            user.two_factor_enabled,
            user.recovery_codes_left,
            user.has_password,
            user.roles,
        ]
    )
    return encoded if len(encoded) <= MAX_BYTES else None


def read_snapshot(encoded: bytes) -> UserSnapshot:
    """The snapshot `snapshot_of` wrote; Unreadable for anything else."""
    try:
        (
            version,
            user_id,
            email,
            first,
            last,
            phone,
            created,
            updated,
            credentials,
            two_factor,
            left,
            password,
            roles,
        ) = orjson.loads(encoded)
        if version != 1:
            raise Unreadable("another layout")
        return UserSnapshot(
            id=PydanticObjectId(user_id),
            email=email,
            first_name=first,
            last_name=last,
            phone=phone,
            created_at=_EPOCH + timedelta(milliseconds=created),
            updated_at=_EPOCH + timedelta(milliseconds=updated),
            credential_version=credentials,
            two_factor_enabled=two_factor,
            recovery_codes_left=left,
            has_password=password,
            roles=tuple(roles),
        )
    except (orjson.JSONDecodeError, ValueError, TypeError) as error:
        raise Unreadable(str(error)) from None


def _millis(moment: datetime) -> int:
    """Epoch milliseconds: what MongoDB keeps of a datetime, so nothing is lost."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)
