"""authql's DateTime scalar (RFC 3339, always UTC) as an aware `datetime`.

Copied into the generated package by ariadne-codegen (`files_to_include`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_datetime(value: Any) -> datetime:
    """The server's string as an aware datetime; a naive one would be a server bug, so it is refused."""
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"DateTime without a UTC offset: {value!r}")
    return parsed


def serialize_datetime(value: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC (naive ones are refused: their zone is unknown).
    Anything else (an optional argument left unset, or null) passes as it is."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        raise ValueError("a naive datetime has no zone; give it one")
    return value.astimezone(UTC).isoformat()
