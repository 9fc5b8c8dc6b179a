"""Expected outcomes every flow may answer: the `Problem` interface and its members."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.interface(
    description=(
        "An expected outcome that is not a success: every result union's failure members implement it, "
        "so a client can show `message` for any member it does not handle by name."
    )
)
class Problem:
    message: str = strawberry.field(description="A sentence for the user, in English; safe to display.")


@strawberry.type(description="What is wrong with one input field.")
class FieldProblem:
    field: str = strawberry.field(
        description='Input field name as the client sent it (e.g. "email", "firstName").'
    )
    message: str = strawberry.field(
        description="Why the value was refused; safe to display next to the field."
    )


@strawberry.type(description="Some input fields are invalid; nothing was changed or sent.")
class InvalidInput(Problem):
    fields: list[FieldProblem] = strawberry.field(description="Every field that failed, each once.")


@strawberry.type(
    description=(
        "Asked too often: a per-client-IP operation limit, a mail quota or cooldown, the lockout of an "
        "address after repeated wrong passwords, too many wrong codes from this client (the code was "
        "not compared and no attempt was spent), or the tries of a registration flow are used up."
    )
)
class RateLimited(Problem):
    retry_after_seconds: int = strawberry.field(description="Seconds to wait before trying again.")


@strawberry.type(description="The one-time code is wrong or expired.")
class InvalidCode(Problem):
    attempts_left: int = strawberry.field(
        description="Wrong guesses still allowed for this code; 0 means the flow is burnt."
    )


@strawberry.type(description="The flow is unknown, expired, used up, or burnt by too many wrong codes.")
class FlowExpired(Problem):
    pass


# The password policy (security/password_policy.py enforces it), as the schema states it.
PASSWORD_RULES = "8-128 characters, not a common password, not containing the local part of the email."


@strawberry.type(description=f"The password breaks the policy: {PASSWORD_RULES}")
class WeakPassword(Problem):
    reasons: list[str] = strawberry.field(
        description="Each rule the password breaks, as a sentence for the user."
    )


@strawberry.type(
    description="Wrong email or password; the same answer whether or not the address has an account."
)
class InvalidCredentials(Problem):
    pass


@strawberry.type(
    description="Only reachable after the email was proven: another flow created the account first."
)
class AccountExists(Problem):
    pass


@strawberry.type(description="The operator's sign-up policy refused this address.")
class SignUpRefused(Problem):
    pass


def invalid_input(problems: dict[str, str]) -> InvalidInput:
    """One InvalidInput listing every field that failed, keyed by its GraphQL name."""
    return InvalidInput(
        message="Some fields are invalid.",
        fields=[FieldProblem(field=name, message=text) for name, text in problems.items()],
    )


def flow_expired() -> FlowExpired:
    return FlowExpired(message="This flow is unknown, expired, finished or burnt; start again.")


def rate_limited(retry_after_seconds: int) -> RateLimited:
    return RateLimited(
        message=f"Too many requests; retry in {retry_after_seconds} seconds.",
        retry_after_seconds=retry_after_seconds,
    )


@strawberry.type(
    description=(
        "The refresh token is unknown, expired, revoked or reused: the session is over, sign in again."
    )
)
class InvalidRefreshToken(Problem):
    pass


@strawberry.type(
    description=(
        "The operator disabled this account. Answered only after the password or code proved the "
        "person, so it tells nobody else that the account exists."
    )
)
class AccountDisabled(Problem):
    until: datetime | None = strawberry.field(
        description="When it opens again by itself; null until the operator enables it."
    )


@strawberry.type(description="No such object for this user (another user's session is not found either).")
class NotFound(Problem):
    pass


@strawberry.type(description="A sign-in that needs a recent sign-in: sign in again, then retry.")
class ReauthenticationRequired(Problem):
    pass


def reauthentication_required() -> ReauthenticationRequired:
    return ReauthenticationRequired(
        message="This needs a recent sign-in: sign in again, then retry within a few minutes."
    )


@strawberry.type(description="Removing it would leave the account with no way to sign in.")
class LastSignInMethod(Problem):
    pass
