"""The answer of a sign-in that needs a second factor (account.graphql).

Kept on its own so every sign-in that may answer it (login, sign-in by code, a
completed password reset) names one copy."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry


@strawberry.enum(description="A way to prove the second factor.")
class SecondFactorMethod(Enum):
    TOTP = strawberry.enum_value("TOTP", description="A 6-digit code from an authenticator app.")
    RECOVERY_CODE = strawberry.enum_value(
        "RECOVERY_CODE",
        description="One of the single-use recovery codes shown when two-factor was turned on.",
    )


@strawberry.type(description="A first factor succeeded; a second one is needed before a session opens.")
class SecondFactorRequired:
    challenge_id: strawberry.ID = strawberry.field(
        description="Opaque, short-lived, a limited number of attempts."
    )
    expires_at: datetime = strawberry.field(description="When the challenge ends.")
    methods: list[SecondFactorMethod] = strawberry.field(description="The second factors this account has.")
