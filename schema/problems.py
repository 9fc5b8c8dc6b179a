"""Expected outcomes every flow may answer: the `Problem` interface and its members."""

from __future__ import annotations

import strawberry


@strawberry.interface
class Problem:
    message: str


@strawberry.type
class FieldProblem:
    field: str = strawberry.field(
        description='Input field name as the client sent it (e.g. "email", "firstName").'
    )
    message: str


@strawberry.type
class InvalidInput(Problem):
    fields: list[FieldProblem]


@strawberry.type
class RateLimited(Problem):
    retry_after_seconds: int


@strawberry.type
class InvalidCode(Problem):
    attempts_left: int = strawberry.field(
        description="Wrong guesses still allowed for this code; 0 means the flow is burnt."
    )


@strawberry.type(description="The flow is unknown, expired, used up, or burnt by too many wrong codes.")
class FlowExpired(Problem):
    pass


@strawberry.type
class WeakPassword(Problem):
    reasons: list[str]


@strawberry.type
class InvalidCredentials(Problem):
    pass


@strawberry.type(
    description="Only reachable after the email was proven: another flow created the account first."
)
class AccountExists(Problem):
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


@strawberry.type
class InvalidRefreshToken(Problem):
    pass


@strawberry.type
class NotFound(Problem):
    pass
