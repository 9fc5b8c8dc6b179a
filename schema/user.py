"""What several flows answer about an account: the User and the AuthPayload."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.type(description="A user's account and profile, as the user may see it.")
class User:
    id: strawberry.ID = strawberry.field(description="Stable, opaque account id.")
    email: str = strawberry.field(description="The proven email address, lower-cased.")
    first_name: str = strawberry.field(description="First name, NFKC-normalised.")
    last_name: str = strawberry.field(description="Last name, NFKC-normalised.")
    phone: str | None = strawberry.field(description="E.164, e.g. +14155550123")
    created_at: datetime = strawberry.field(description="When the account was created.")
    updated_at: datetime = strawberry.field(
        description="When the account last changed (profile, email, password or two-factor)."
    )
    two_factor_enabled: bool = strawberry.field(
        description="Whether signing in needs a second factor (TOTP or a recovery code)."
    )
    recovery_codes_left: int = strawberry.field(
        description="Unused recovery codes; 0 when two-factor is off."
    )
    has_password: bool = strawberry.field(
        description=(
            "False for an account made by social sign-in that never set a password "
            "(a password reset sets one)."
        )
    )

    roles: list[str] = strawberry.field(
        description=(
            "Set by the operator through the admin API; read-only here. Access tokens carry them as "
            "the claim `roles` (and the operator's app metadata as `app_metadata`)."
        )
    )

    @strawberry.field(description="The provider identities linked to the account, oldest first.")
    async def identities(self) -> list[SocialIdentity]:
        from resolvers.social import identities_of

        return await identities_of(str(self.id))

    @strawberry.field(description="The account's passkeys, oldest first.")
    async def passkeys(self) -> list[Passkey]:
        from resolvers.passkeys import passkeys_of

        return await passkeys_of(str(self.id))


@strawberry.type(description="A provider identity linked to the account.")
class SocialIdentity:
    provider: strawberry.ID = strawberry.field(description="The provider's id, as in SocialProvider.id.")
    email: str | None = strawberry.field(description="The address the provider gave at the last sign-in.")
    linked_at: datetime = strawberry.field(description="When it was linked.")
    last_used_at: datetime | None = strawberry.field(description="When it last signed in.")


@strawberry.type(description="A passkey (WebAuthn credential) that signs into the account.")
class Passkey:
    id: strawberry.ID = strawberry.field(description="Opaque id, for renamePasskey and removePasskey.")
    name: str = strawberry.field(
        description="Given by the person; defaults to the authenticator's kind and the date."
    )
    created_at: datetime = strawberry.field(description="When it was added.")
    last_used_at: datetime | None = strawberry.field(description="When it last signed in.")
    backed_up: bool = strawberry.field(
        description="The authenticator says the credential is synced (backed up) across devices."
    )


@strawberry.type(
    description=(
        "A signed-in session: a short-lived access token for requests and a refresh token to renew it. "
        "Keep the refresh token secret (it renews the session until it ends)."
    )
)
class AuthPayload:
    access_token: str = strawberry.field(description="JWT; send as Authorization: Bearer <accessToken>")
    token_type: str = strawberry.field(description='Always "Bearer".')
    expires_in: int = strawberry.field(description="Seconds until accessToken expires.")
    user: User = strawberry.field(description="The user signed in.")
    refresh_token: str = strawberry.field(
        description="Opaque; exchange with refreshTokens. Rotates on every use."
    )
    refresh_expires_in: int = strawberry.field(
        description="Seconds until the session ends if it is never refreshed."
    )
    session_id: strawberry.ID = strawberry.field(
        description="The session these tokens belong to (Session.id in `sessions`, for revokeSession)."
    )
