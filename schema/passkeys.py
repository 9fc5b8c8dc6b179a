"""Types of passkeys (WebAuthn): the options a browser passes to navigator.credentials,
and the results of registering, signing in with, renaming and removing a passkey."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.permissions import IsAuthenticated
from schema.problems import (
    AccountDisabled,
    FlowExpired,
    InvalidInput,
    LastSignInMethod,
    NotFound,
    Problem,
    RateLimited,
    ReauthenticationRequired,
)
from schema.rate_limit import LIMITED, RateLimit
from schema.user import AuthPayload, Passkey, User


@strawberry.type(description="A challenge for the authenticator, as WebAuthn options.")
class PasskeyOptions:
    challenge_id: strawberry.ID = strawberry.field(description="Opaque handle for the finishing call.")
    options_json: str = strawberry.field(
        description="The options as a JSON string (WebAuthn Level 3 JSON form)."
    )
    expires_at: datetime = strawberry.field(
        description="When the challenge ends (2 minutes); it is single use."
    )


@strawberry.type(
    description=(
        "The authenticator's answer did not verify (signature, challenge, origin, RP id, user "
        "verification, counter) or names no passkey here."
    )
)
class PasskeyRejected(Problem):
    pass


StartPasskeyRegistrationResult = Annotated[
    PasskeyOptions | ReauthenticationRequired | RateLimited,
    strawberry.union(
        "StartPasskeyRegistrationResult",
        description="Creation options for navigator.credentials.create(), or why not.",
    ),
]


@strawberry.type(description="The passkey signs into the account from now on.")
class PasskeyAdded:
    passkey: Passkey = strawberry.field(description="The new passkey.")


FinishPasskeyRegistrationResult = Annotated[
    PasskeyAdded | PasskeyRejected | FlowExpired | InvalidInput | RateLimited,
    strawberry.union(
        "FinishPasskeyRegistrationResult",
        description="FlowExpired: the challenge is unknown, expired, used, or another account's.",
    ),
]

StartPasskeySignInResult = Annotated[
    PasskeyOptions | RateLimited,
    strawberry.union(
        "StartPasskeySignInResult", description="Request options for navigator.credentials.get()."
    ),
]

FinishPasskeySignInResult = Annotated[
    AuthPayload | PasskeyRejected | FlowExpired | RateLimited | AccountDisabled,
    strawberry.union(
        "FinishPasskeySignInResult",
        description=(
            "A session (a passkey with user verification is multi-factor: never SecondFactorRequired), or "
            "why not. FlowExpired: the challenge is unknown, expired or used."
        ),
    ),
]


@strawberry.type(description="The passkey's new name.")
class PasskeyRenamed:
    passkey: Passkey = strawberry.field(description="The passkey, renamed.")


RenamePasskeyResult = Annotated[
    PasskeyRenamed | NotFound | InvalidInput,
    strawberry.union("RenamePasskeyResult", description="NotFound: no such passkey on this account."),
]


@strawberry.type(description="The passkey no longer signs into the account.")
class PasskeyRemoved:
    user: User = strawberry.field(description="The account, without the passkey.")


RemovePasskeyResult = Annotated[
    PasskeyRemoved | NotFound | LastSignInMethod | ReauthenticationRequired,
    strawberry.union(
        "RemovePasskeyResult",
        description="LastSignInMethod: the account has no password, no social identity and no other passkey.",
    ),
]


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/passkeys.py` (imported here, not at
    the top: the flow imports this module's types)."""
    from resolvers import passkeys as flow

    @strawberry.type
    class PasskeyMutation:
        start_passkey_registration: StartPasskeyRegistrationResult = strawberry.mutation(
            resolver=flow.start_passkey_registration,
            extensions=[RateLimit("start_passkey_registration")],
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token from a recent sign-in. ReauthenticationRequired past "
                "REAUTHENTICATION_WINDOW_SECONDS. Options for a discoverable, user-verifying passkey "
                "(attestation none; ES256, EdDSA, RS256); excludeCredentials lists the account's "
                "passkeys. " + LIMITED
            ),
        )
        finish_passkey_registration: FinishPasskeyRegistrationResult = strawberry.mutation(
            resolver=flow.finish_passkey_registration,
            extensions=[RateLimit("finish_passkey_registration")],
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token. credentialJson: the new credential's toJSON(). Only the "
                "account that started may finish (else FlowExpired); the challenge is spent whatever the "
                "outcome. The owner is mailed a notice. " + LIMITED
            ),
        )
        start_passkey_sign_in: StartPasskeySignInResult = strawberry.mutation(
            resolver=flow.start_passkey_sign_in,
            extensions=[RateLimit("start_passkey_sign_in")],
            description=(
                "email omitted: options for a discoverable credential (the browser offers the passkeys "
                "it holds). An email without an account gets options alike in shape and timing. " + LIMITED
            ),
        )
        finish_passkey_sign_in: FinishPasskeySignInResult = strawberry.mutation(
            resolver=flow.finish_passkey_sign_in,
            extensions=[RateLimit("finish_passkey_sign_in")],
            description=(
                "credentialJson: the assertion's toJSON(). The challenge is spent whatever the outcome. "
                "A failure on a known account counts into its address's lockout (RateLimited while "
                "locked). " + LIMITED
            ),
        )
        rename_passkey: RenamePasskeyResult = strawberry.mutation(
            resolver=flow.rename_passkey,
            permission_classes=[IsAuthenticated],
            description="Requires a valid access token. name: 1 to 64 characters.",
        )
        remove_passkey: RemovePasskeyResult = strawberry.mutation(
            resolver=flow.remove_passkey,
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token from a recent sign-in. LastSignInMethod when it is the "
                "account's last way to sign in. The owner is mailed a notice."
            ),
        )

    return PasskeyMutation
