"""What several flows answer about an account: the User and the AuthPayload."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.type
class User:
    id: strawberry.ID
    email: str
    first_name: str
    last_name: str
    phone: str | None = strawberry.field(description="E.164, e.g. +14155550123")
    created_at: datetime
    updated_at: datetime
    two_factor_enabled: bool = strawberry.field(
        description="Whether signing in needs a second factor (TOTP or a recovery code)."
    )
    recovery_codes_left: int = strawberry.field(
        description="Unused recovery codes; 0 when two-factor is off."
    )


@strawberry.type
class AuthPayload:
    access_token: str = strawberry.field(description="JWT; send as Authorization: Bearer <accessToken>")
    token_type: str = strawberry.field(description='Always "Bearer".')
    expires_in: int = strawberry.field(description="Seconds until accessToken expires.")
    user: User
    refresh_token: str = strawberry.field(
        description="Opaque; exchange with refreshTokens. Rotates on every use."
    )
    refresh_expires_in: int = strawberry.field(
        description="Seconds until the session ends if it is never refreshed."
    )
    session_id: strawberry.ID
