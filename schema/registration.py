"""Types of the four registration steps and the code resend, in flow order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.problems import (
    AccountExists,
    FlowExpired,
    InvalidCode,
    InvalidInput,
    RateLimited,
    SignUpRefused,
    WeakPassword,
)
from schema.rate_limit import LIMITED, RateLimit
from schema.user import AuthPayload


@strawberry.type(description="A code is on its way to the address (if it has no account yet).")
class RegistrationStarted:
    registration_id: strawberry.ID = strawberry.field(
        description="Opaque handle for verifyRegistrationCode and resendRegistrationCode."
    )
    expires_at: datetime = strawberry.field(description="When the mailed code expires.")
    resend_available_at: datetime = strawberry.field(
        description="When a new code may be asked for (resend cooldown)."
    )
    code_length: int = strawberry.field(description="How many digits the mailed code has.")


StartRegistrationResult = Annotated[
    RegistrationStarted | InvalidInput | RateLimited | SignUpRefused,
    strawberry.union(
        "StartRegistrationResult",
        description=(
            "The flow started, or the email is invalid, or too many requests, or the operator's "
            "sign-up policy (HOOK_BEFORE_SIGN_UP_URL) refused the address."
        ),
    ),
]


@strawberry.type(description="A new code is on its way; the earlier one works until it is delivered.")
class RegistrationCodeSent:
    expires_at: datetime = strawberry.field(description="When the new code expires.")
    resend_available_at: datetime = strawberry.field(
        description="When a new code may be asked for (resend cooldown)."
    )


ResendRegistrationCodeResult = Annotated[
    RegistrationCodeSent | FlowExpired | RateLimited,
    strawberry.union(
        "ResendRegistrationCodeResult", description="A new code was mailed, or the flow is over, or too soon."
    ),
]


@strawberry.type(description="The code was right: the address is proven.")
class RegistrationVerified:
    registration_token: str = strawberry.field(
        description="Secret for steps 3 and 4; registrationId is no longer enough from here on."
    )
    expires_at: datetime = strawberry.field(description="When the whole registration flow expires.")


VerifyRegistrationCodeResult = Annotated[
    RegistrationVerified | InvalidCode | FlowExpired | RateLimited,
    strawberry.union(
        "VerifyRegistrationCodeResult",
        description="The address is proven, or the code is wrong, or the flow is over, or too many requests.",
    ),
]


@strawberry.type(description="The password is set (hashed) for completeRegistration.")
class RegistrationPasswordSet:
    expires_at: datetime = strawberry.field(description="When the whole registration flow expires.")


SetRegistrationPasswordResult = Annotated[
    RegistrationPasswordSet | WeakPassword | FlowExpired | RateLimited,
    strawberry.union(
        "SetRegistrationPasswordResult",
        description="The password is set, or too weak, or the flow is over, or too many tries.",
    ),
]


@strawberry.input(description="The new account's profile, given at registration step 4.")
class ProfileInput:
    first_name: str = strawberry.field(description="First name: 1-100 characters with at least one letter.")
    last_name: str = strawberry.field(description="Last name: 1-100 characters with at least one letter.")
    phone: str | None = strawberry.field(
        default=None, description="Phone number in international form (e.g. +14155550123), optional."
    )


CompleteRegistrationResult = Annotated[
    AuthPayload | InvalidInput | FlowExpired | AccountExists,
    strawberry.union(
        "CompleteRegistrationResult",
        description=(
            "Signed in to the new account, or the profile is invalid, or the flow is over or lost a race."
        ),
    ),
]


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/registration.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import registration as flow

    @strawberry.type
    class RegistrationMutation:
        start_registration: StartRegistrationResult = strawberry.mutation(
            resolver=flow.start_registration,
            extensions=[RateLimit("start_registration")],
            description=(
                "Registration step 1: mails a one-time code to `email` and opens a flow. An address that "
                "already has an account gets the same answer (and a mail saying so, without a code), so the "
                "answer never tells whether an account exists. No access token needed. InvalidInput for an "
                "address that is not an email; RateLimited past the per-IP limit or the per-address and "
                "global mail quotas. " + LIMITED
            ),
        )
        resend_registration_code: ResendRegistrationCodeResult = strawberry.mutation(
            resolver=flow.resend_registration_code,
            extensions=[RateLimit("resend_registration_code")],
            description=(
                "Mails a new code for a started registration, once resendAvailableAt has passed. The "
                "earlier code keeps working until the new mail is delivered; the wrong-code count carries "
                "over. FlowExpired for an unknown, expired or burnt flow; RateLimited during the cooldown "
                "or past the mail quotas. " + LIMITED
            ),
        )
        verify_registration_code: VerifyRegistrationCodeResult = strawberry.mutation(
            resolver=flow.verify_registration_code,
            extensions=[RateLimit("verify_registration_code")],
            description=(
                "Registration step 2: checks the mailed code and answers the registrationToken that steps 3 "
                "and 4 need. InvalidCode with the guesses left; after the last allowed wrong code the flow "
                "is burnt and answers FlowExpired from then on. " + LIMITED
            ),
        )
        set_registration_password: SetRegistrationPasswordResult = strawberry.mutation(
            resolver=flow.set_registration_password,
            extensions=[RateLimit("set_registration_password")],
            description=(
                "Registration step 3: sets the password (may be repeated until step 4, at most 5 times per "
                "flow). WeakPassword with the reasons; FlowExpired for a token that is unknown, expired or "
                "not yet verified; RateLimited past the per-IP limit or the 5 tries of the flow. "
                "May answer SERVICE_UNAVAILABLE when too many password hashes are waiting. " + LIMITED
            ),
        )
        complete_registration: CompleteRegistrationResult = strawberry.mutation(
            resolver=flow.complete_registration,
            description=(
                "Registration step 4: creates the account with the profile and signs in (AuthPayload). "
                "InvalidInput lists each invalid profile field; FlowExpired when the token is unknown, "
                "expired or has no password yet; AccountExists when another flow created the account first."
            ),
        )

    return RegistrationMutation
