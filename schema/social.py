"""Types of social sign-in (social.graphql): the providers, the redirect dance's start and
completion, linking and unlinking identities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.problems import (
    AccountDisabled,
    FlowExpired,
    InvalidInput,
    LastSignInMethod,
    NotFound,
    Problem,
    RateLimited,
    ReauthenticationRequired,
    SignUpRefused,
)
from schema.rate_limit import LIMITED, RateLimit
from schema.two_factor import SecondFactorRequired
from schema.user import AuthPayload, User


@strawberry.type(description="A provider configured on this server, for drawing its button.")
class SocialProvider:
    id: strawberry.ID = strawberry.field(
        description="The provider's key in the configuration: google, github, acme-sso."
    )
    display_name: str = strawberry.field(description="The name to show on its button.")


@strawberry.type(description="Where to send the browser to sign in at the provider.")
class SocialSignInStarted:
    authorization_url: str = strawberry.field(
        description="Send the browser here. Single use; valid until expiresAt."
    )
    expires_at: datetime = strawberry.field(description="When the flow ends (10 minutes at most).")


@strawberry.type(description="No provider with this id is configured.")
class UnknownProvider(Problem):
    pass


@strawberry.type(description="redirectUri is not one of the configured SOCIAL_REDIRECT_URIS.")
class RedirectNotAllowed(Problem):
    pass


@strawberry.type(
    description=(
        "The provider identity is linked to no account, and its address belongs to an account: sign in "
        "another way, then link it."
    )
)
class SocialAccountExists(Problem):
    pass


@strawberry.type(
    description="The provider gave no address that it has verified: no account can be made or found from it."
)
class SocialEmailUnverified(Problem):
    pass


@strawberry.type(description="The provider identity is now linked to the account.")
class SocialIdentityLinked:
    user: User = strawberry.field(description="The account, with the identity in `identities`.")


@strawberry.type(description="The provider identity is linked to another account.")
class SocialIdentityTaken(Problem):
    pass


@strawberry.type(description="The identity no longer signs into the account.")
class SocialIdentityUnlinked:
    user: User = strawberry.field(description="The account, without the identity.")


StartSocialSignInResult = Annotated[
    SocialSignInStarted | UnknownProvider | RedirectNotAllowed | RateLimited,
    strawberry.union("StartSocialSignInResult", description="What startSocialSignIn answers."),
]
StartSocialLinkResult = Annotated[
    SocialSignInStarted | UnknownProvider | RedirectNotAllowed | ReauthenticationRequired | RateLimited,
    strawberry.union("StartSocialLinkResult", description="What startSocialLink answers."),
]
CompleteSocialSignInResult = Annotated[
    AuthPayload
    | SecondFactorRequired
    | SocialAccountExists
    | SocialEmailUnverified
    | InvalidInput
    | FlowExpired
    | RateLimited
    | SignUpRefused
    | AccountDisabled,
    strawberry.union(
        "CompleteSocialSignInResult",
        description="What login answers: a session, SecondFactorRequired, or why not.",
    ),
]
CompleteSocialLinkResult = Annotated[
    SocialIdentityLinked | SocialIdentityTaken | FlowExpired | RateLimited,
    strawberry.union("CompleteSocialLinkResult", description="What completeSocialLink answers."),
]
UnlinkSocialIdentityResult = Annotated[
    SocialIdentityUnlinked | NotFound | LastSignInMethod | ReauthenticationRequired,
    strawberry.union("UnlinkSocialIdentityResult", description="What unlinkSocialIdentity answers."),
]


def queries() -> type:
    from resolvers import social as flow

    @strawberry.type
    class SocialQuery:
        social_providers: list[SocialProvider] = strawberry.field(
            resolver=flow.social_providers,
            description="The providers configured on this server, in configuration order.",
        )

    return SocialQuery


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/social.py`."""
    from resolvers import social as flow

    @strawberry.type
    class SocialMutation:
        start_social_sign_in: StartSocialSignInResult = strawberry.mutation(
            resolver=flow.start_social_sign_in,
            extensions=[RateLimit("start_social_sign_in")],
            description=(
                "redirectUri: where authql sends the browser back with ?ticket= (or ?error=); one of "
                "SOCIAL_REDIRECT_URIS. codeChallenge: BASE64URL(SHA256(codeVerifier)) of a verifier the app "
                "keeps (43 to 128 characters, RFC 7636). " + LIMITED
            ),
        )
        complete_social_sign_in: CompleteSocialSignInResult = strawberry.mutation(
            resolver=flow.complete_social_sign_in,
            extensions=[RateLimit("complete_social_sign_in")],
            description=(
                "ticket: from the redirect. codeVerifier: the app's own, whose challenge started the flow "
                "(else FlowExpired). profile: only for a new account whose provider gave no first or last "
                "name (else InvalidInput naming them, and the ticket stays usable until it expires). "
                + LIMITED
            ),
        )
        start_social_link: StartSocialLinkResult = strawberry.mutation(
            resolver=flow.start_social_link,
            extensions=[RateLimit("start_social_link")],
            description=(
                "Requires a valid access token from a recent sign-in. Same redirect dance as "
                "startSocialSignIn. A recent sign-in: within REAUTHENTICATION_WINDOW_SECONDS. " + LIMITED
            ),
        )
        complete_social_link: CompleteSocialLinkResult = strawberry.mutation(
            resolver=flow.complete_social_link,
            extensions=[RateLimit("complete_social_link")],
            description="Requires a valid access token: the same account that started the link. " + LIMITED,
        )
        unlink_social_identity: UnlinkSocialIdentityResult = strawberry.mutation(
            resolver=flow.unlink_social_identity,
            description="Requires a valid access token from a recent sign-in.",
        )

    return SocialMutation
