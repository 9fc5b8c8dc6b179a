"""What events say of a person beyond `data.user.id` and `data.user.email`: the profile,
in the API's field names. Never a hash, code, token or TOTP secret."""

from __future__ import annotations

from typing import Any

from documents.user import User


def camel(field: str) -> str:
    """`first_name` -> `firstName`."""
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def user_fields(user: User) -> dict[str, Any]:
    return {
        "firstName": user.first_name,
        "lastName": user.last_name,
        "phone": user.phone,
        "createdAt": user.created_at.isoformat(),
        "updatedAt": user.updated_at.isoformat(),
    }
