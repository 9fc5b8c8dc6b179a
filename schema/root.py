"""The schema root: Query and Mutation bound to their resolvers, and the Schema
with its extensions and limits. The HTTP layer (endpoints.py) and tests import it;
nothing is built at import."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types import ExecutionContext

from resolvers import (
    account,
    code_login,
    email_change,
    login,
    password,
    password_reset,
    profile,
    registration,
    sessions,
    two_factor,
)
from schema.account import DeleteAccountResult
from schema.code_login import CompleteCodeLoginResult, StartCodeLoginResult
from schema.email_change import ConfirmEmailChangeResult, StartEmailChangeResult
from schema.error_codes import ErrorCodeEnum, error_codes
from schema.limits import limit_rules
from schema.login import LoginResult
from schema.measure import measure_root_fields
from schema.password_reset import (
    CompletePasswordResetResult,
    ResendPasswordResetCodeResult,
    StartPasswordResetResult,
)
from schema.permissions import IsAuthenticated
from schema.profile import UpdateProfileResult
from schema.rate_limit import RateLimit
from schema.registration import (
    CompleteRegistrationResult,
    ResendRegistrationCodeResult,
    SetRegistrationPasswordResult,
    StartRegistrationResult,
    VerifyRegistrationCodeResult,
)
from schema.sessions import ChangePasswordResult, LoggedOut, RefreshTokensResult, RevokeSessionResult, Session
from schema.two_factor import (
    ConfirmTotpResult,
    DisableTotpResult,
    EnrollTotpResult,
    RegenerateRecoveryCodesResult,
    VerifySecondFactorResult,
)
from schema.user import User

CACHE_SIZE = 512

# Strawberry's DateTime, with the standard its values follow named, so code generators
# map it to their date-time type without a hand-written mapping.
DATE_TIME = dataclasses.replace(
    DateTimeDefinition,
    description="A UTC date and time in RFC 3339 form, e.g. 2026-11-30T19:16:00.123000+00:00.",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
)


# Said once here, used in the descriptions of the operations a client IP may call only so often.
LIMITED = "Limited per client IP (RateLimited when used up)."


@strawberry.type(
    description="What a client may read: the signed-in user, their sessions, and the error codes."
)
class Query:
    me: User = strawberry.field(
        resolver=profile.me,
        permission_classes=[IsAuthenticated],
        description="The signed-in user. Without a valid access token: top-level error UNAUTHENTICATED.",
    )
    sessions: list[Session] = strawberry.field(
        resolver=sessions.sessions,
        permission_classes=[IsAuthenticated],
        description="The signed-in user's live sessions, newest first. Requires a valid access token.",
    )
    error_codes: list[ErrorCodeEnum] = strawberry.field(  # type: ignore[valid-type]
        resolver=error_codes,
        description=(
            "Every value errors[].extensions.code may take (the ErrorCode enum), so a client can check its "
            "error handling against this server. No access token needed."
        ),
    )


@strawberry.type(
    description=(
        "What a client may change: the four registration steps, login, the session and password "
        "operations, the password reset and the profile. Expected failures are result types "
        "implementing Problem; only the causes listed in ErrorCode become top-level errors."
    )
)
class Mutation:
    start_registration: StartRegistrationResult = strawberry.mutation(
        resolver=registration.start_registration,
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
        resolver=registration.resend_registration_code,
        extensions=[RateLimit("resend_registration_code")],
        description=(
            "Mails a new code for a started registration, once resendAvailableAt has passed. The earlier "
            "code keeps working until the new mail is delivered; the wrong-code count carries over. "
            "FlowExpired for an unknown, expired or burnt flow; RateLimited during the cooldown or past "
            "the mail quotas. " + LIMITED
        ),
    )
    verify_registration_code: VerifyRegistrationCodeResult = strawberry.mutation(
        resolver=registration.verify_registration_code,
        extensions=[RateLimit("verify_registration_code")],
        description=(
            "Registration step 2: checks the mailed code and answers the registrationToken that steps 3 "
            "and 4 need. InvalidCode with the guesses left; after the last allowed wrong code the flow is "
            "burnt and answers FlowExpired from then on. " + LIMITED
        ),
    )
    set_registration_password: SetRegistrationPasswordResult = strawberry.mutation(
        resolver=registration.set_registration_password,
        extensions=[RateLimit("set_registration_password")],
        description=(
            "Registration step 3: sets the password (may be repeated until step 4, at most 5 times per "
            "flow). WeakPassword with the reasons; FlowExpired for a token that is unknown, expired or "
            "not yet verified; RateLimited past the per-IP limit or the 5 tries of the flow. "
            "May answer SERVICE_UNAVAILABLE when too many password hashes are waiting. " + LIMITED
        ),
    )
    complete_registration: CompleteRegistrationResult = strawberry.mutation(
        resolver=registration.complete_registration,
        description=(
            "Registration step 4: creates the account with the profile and signs in (AuthPayload). "
            "InvalidInput lists each invalid profile field; FlowExpired when the token is unknown, "
            "expired or has no password yet; AccountExists when another flow created the account first."
        ),
    )
    login: LoginResult = strawberry.mutation(
        resolver=login.login,
        extensions=[RateLimit("login")],
        description=(
            "Signs in with email and password and opens a session (AuthPayload, with the refresh "
            "token). InvalidCredentials for a wrong password or an unknown address alike; RateLimited "
            "past the per-IP limit or while the address is locked after repeated failures. May answer "
            "SERVICE_UNAVAILABLE when too many password hashes are waiting. " + LIMITED
        ),
    )
    update_profile: UpdateProfileResult = strawberry.mutation(
        resolver=profile.update_profile,
        permission_classes=[IsAuthenticated],
        description=(
            "Requires a valid access token (top-level UNAUTHENTICATED otherwise). Changes the fields "
            "given in `input`; InvalidInput lists each invalid field and changes nothing."
        ),
    )
    refresh_tokens: RefreshTokensResult = strawberry.mutation(
        resolver=sessions.refresh_tokens,
        description=(
            "Exchanges a refresh token for a new access token and a new refresh token (the old one is "
            "spent). No access token needed. InvalidRefreshToken for an unknown, expired or revoked one; "
            "presenting a rotated-away refresh token again revokes the whole session (except once within "
            "a short grace window, which answers the same new pair)."
        ),
    )
    logout: LoggedOut = strawberry.mutation(
        resolver=sessions.logout,
        permission_classes=[IsAuthenticated],
        description=(
            "Requires a valid access token. Ends the sessions `scope` names (by default the current "
            "one) and answers how many ended; their access and refresh tokens stop working at once."
        ),
    )
    revoke_session: RevokeSessionResult = strawberry.mutation(
        resolver=sessions.revoke_session,
        permission_classes=[IsAuthenticated],
        description=(
            "Requires a valid access token; only the user's own sessions are found. Ends the session "
            "with this id (SessionRevoked); NotFound for an unknown id or another user's session alike."
        ),
    )
    change_password: ChangePasswordResult = strawberry.mutation(
        resolver=password.change_password,
        extensions=[RateLimit("change_password")],
        permission_classes=[IsAuthenticated],
        description=(
            "Requires a valid access token. Checks currentPassword, sets newPassword, revokes every "
            "other session and answers a fresh AuthPayload for this one. InvalidCredentials for a wrong "
            "current password (counted by the same lockout as login); WeakPassword with the reasons; "
            "RateLimited past the per-IP limit or while locked. " + LIMITED
        ),
    )
    start_password_reset: StartPasswordResetResult = strawberry.mutation(
        resolver=password_reset.start_password_reset,
        extensions=[RateLimit("start_password_reset")],
        description=(
            "Forgotten password, step 1: mails a one-time code to `email` if it has an account (an "
            "address without one gets the same answer and a mail without a code). No access token "
            "needed. InvalidInput for an address that is not an email; RateLimited past the per-IP "
            "limit or the mail quotas. " + LIMITED
        ),
    )
    resend_password_reset_code: ResendPasswordResetCodeResult = strawberry.mutation(
        resolver=password_reset.resend_password_reset_code,
        extensions=[RateLimit("resend_password_reset_code")],
        description=(
            "Mails a new reset code once resendAvailableAt has passed; the wrong-code count carries over. "
            "FlowExpired for an unknown, expired or burnt flow; RateLimited during the cooldown or past "
            "the mail quotas. " + LIMITED
        ),
    )
    complete_password_reset: CompletePasswordResetResult = strawberry.mutation(
        resolver=password_reset.complete_password_reset,
        extensions=[RateLimit("complete_password_reset")],
        description=(
            "Forgotten password, step 2: checks the mailed code, sets newPassword, revokes every session "
            "of the user, lifts a login lockout and signs in (AuthPayload). InvalidCode with the guesses "
            "left; FlowExpired for an unknown, expired or burnt flow; WeakPassword with the reasons "
            "(checked before the code, so it costs no guess). " + LIMITED
        ),
    )
    delete_account: DeleteAccountResult = strawberry.mutation(
        resolver=account.delete_account,
        extensions=[RateLimit("delete_account")],
        permission_classes=[IsAuthenticated],
        description=(
            "Requires a valid access token; deletes the user and every session. Asks for the password "
            "again: InvalidCredentials for a wrong one (counted by the same lockout as login); "
            "RateLimited past the per-IP limit or while locked. " + LIMITED
        ),
    )
    start_code_login: StartCodeLoginResult = strawberry.mutation(
        resolver=code_login.start_code_login,
        extensions=[RateLimit("start_code_login")],
        description=(
            "Mails a sign-in code; an address without an account gets the same answer and a mail "
            "saying so. A new start by the same client for the same address within the resend cooldown: "
            "RateLimited. "
            "InvalidInput for a malformed address. " + LIMITED
        ),
    )
    complete_code_login: CompleteCodeLoginResult = strawberry.mutation(
        resolver=code_login.complete_code_login,
        extensions=[RateLimit("complete_code_login")],
        description=(
            "The mailed code, once: opens a session, or answers SecondFactorRequired when the account has "
            "two-factor on. InvalidCode with the attempts left; FlowExpired once the code expired or its "
            "attempts are used up. " + LIMITED
        ),
    )
    start_email_change: StartEmailChangeResult = strawberry.mutation(
        resolver=email_change.start_email_change,
        extensions=[RateLimit("start_email_change")],
        permission_classes=[IsAuthenticated],
        description=(
            "Requires a valid access token. Mails a code to the new address and a notice to the current one. "
            "InvalidCredentials for a wrong password (counted by the same lockout as login); InvalidInput "
            "for a malformed or unchanged address; an address that has an account gets the same answer "
            "(and a mail saying so). " + LIMITED
        ),
    )
    confirm_email_change: ConfirmEmailChangeResult = strawberry.mutation(
        resolver=email_change.confirm_email_change,
        extensions=[RateLimit("confirm_email_change")],
        permission_classes=[IsAuthenticated],
        description=(
            "Requires a valid access token. The code mailed to the new address moves the account to it; "
            "the sessions go on and the old address gets a notice. AccountExists if another account took "
            "the address meanwhile; InvalidCode with the attempts left; FlowExpired for an expired, "
            "used-up or unknown change. " + LIMITED
        ),
    )
    verify_second_factor: VerifySecondFactorResult = strawberry.mutation(
        resolver=two_factor.verify_second_factor,
        extensions=[RateLimit("verify_second_factor")],
        description=(
            "Finishes a sign-in that answered SecondFactorRequired. The code: a current TOTP (one step of "
            "drift either way, each step once) or an unused recovery code. InvalidCode with the attempts "
            "left; FlowExpired once the challenge expired or used its 5 attempts; RateLimited past the "
            "account's tries or the lockout. " + LIMITED
        ),
    )
    enroll_totp: EnrollTotpResult = strawberry.mutation(
        resolver=two_factor.enroll_totp,
        permission_classes=[IsAuthenticated],
        description=(
            "Requires a valid access token. Two-factor stays off until confirmTotp. InvalidCredentials for "
            "a wrong password (counted by the same lockout as login); TwoFactorAlreadyEnabled when on."
        ),
    )
    confirm_totp: ConfirmTotpResult = strawberry.mutation(
        resolver=two_factor.confirm_totp,
        permission_classes=[IsAuthenticated],
        description=(
            "Requires a valid access token; the code from the enrolled authenticator. It turns two-factor "
            "on and answers the recovery codes, once. FlowExpired when no enrolment is pending (or it "
            "expired)."
        ),
    )
    disable_totp: DisableTotpResult = strawberry.mutation(
        resolver=two_factor.disable_totp,
        permission_classes=[IsAuthenticated],
        description=(
            "Requires a valid access token; code: a current TOTP or a recovery code. Both factors are "
            "needed: InvalidCredentials for a wrong password, InvalidCode for a wrong code."
        ),
    )
    regenerate_recovery_codes: RegenerateRecoveryCodesResult = strawberry.mutation(
        resolver=two_factor.regenerate_recovery_codes,
        permission_classes=[IsAuthenticated],
        description=(
            "Requires a valid access token; replaces every recovery code. The old ones stop working. "
            "Both factors are needed: InvalidCredentials for a wrong password, InvalidCode for a wrong code."
        ),
    )


class AuthqlSchema(strawberry.Schema):
    """Strawberry's schema, holding the validation rules and token limit it was built
    with, so the prepared-document path (schema/prepared.py) checks exactly the same."""

    def __init__(self, *, rules: list[type[ASTValidationRule]], max_tokens: int, **options: Any) -> None:
        super().__init__(
            **options,
            extensions=[
                partial(AddValidationRules, rules),
                partial(MaxTokensLimiter, max_tokens),
                partial(ParserCache, maxsize=CACHE_SIZE),
                partial(ValidationCache, maxsize=CACHE_SIZE),
            ],
        )
        self.rules = tuple(rules)
        self.max_tokens = max_tokens

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logging is `schema.errors.classify`'s job: unexpected errors once, with traceback."""


@dataclass(frozen=True)
class Limits:
    """What one GraphQL document may ask for; defaults let every contract operation pass."""

    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    introspection: bool = True


def build_schema(limits: Limits = Limits()) -> AuthqlSchema:
    # The limiter rules are built once, here: rule classes made per request would
    # change the validation cache's key and defeat it (strawberry #4635). Factories
    # give each request fresh extension objects; the parse and validation LRU caches
    # live at module level, shared by every request.
    # Our own depth and alias rules (schema/limits.py): Strawberry's walk a fragment
    # again at every spread, exponential in the number of fragments.
    rules = limit_rules(limits.max_depth, limits.max_aliases)
    measure_root_fields(Query, Mutation)
    if not limits.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return AuthqlSchema(
        rules=rules,
        max_tokens=limits.max_tokens,
        query=Query,
        mutation=Mutation,
        scalar_overrides={datetime: DATE_TIME},
    )


if __name__ == "__main__":
    # `python -m schema.root > schema.graphql` refreshes the exported schema.
    print(build_schema().as_str())
