"""Social sign-in and linking (social.graphql); the callback between the two legs is
endpoints/routes.py's `social_callback`, the provider talk security/social/.

The linking rules, each against an account takeover seen at a peer:
- An identity is the pair (provider, subject), unique (documents/identity.py): it signs
  into the one account it is linked to, whatever address the provider reports later (a
  provider address changed to a victim's opens nothing new).
- A new identity whose verified address matches no account makes an account without a
  password. No verified address: SocialEmailUnverified, nothing made.
- A new identity whose address has an account is linked by itself only when the provider
  is trusted for email (SOCIAL_<ID>_TRUST_EMAIL) AND says the address is verified AND the
  account's address was proven by its owner (`email_proven`); otherwise
  SocialAccountExists: whoever owns the account signs in another way and links from
  inside, after a recent sign-in. A provider that lets anyone claim any address (or an
  account made for someone who never came) cannot hand the account to a stranger.
- The ticket opens nothing without the verifier of the app that started the flow.
"""

from __future__ import annotations

import re
from typing import Annotated

import strawberry
from beanie import PydanticObjectId
from graphql import GraphQLError
from pymongo.errors import DuplicateKeyError
from strawberry.types import Info

from documents.fields import InvalidValue, clean_name, normalize_email, normalize_phone
from documents.identity import SocialIdentity as IdentityDocument
from documents.user import NO_PASSWORD, User, utc_now
from resolvers.auth.reauthentication import require_recent_sign_in
from resolvers.auth.signin import public_user, sign_in
from resolvers.auth.ways_in import other_way_in
from resolvers.registration import before_sign_up
from schema.context import Context
from schema.error_codes import ErrorCode
from schema.problems import FlowExpired, NotFound, flow_expired, invalid_input
from schema.registration import ProfileInput
from schema.social import (
    CompleteSocialLinkResult,
    CompleteSocialSignInResult,
    LastSignInMethod,
    RedirectNotAllowed,
    SocialAccountExists,
    SocialEmailUnverified,
    SocialIdentityLinked,
    SocialIdentityTaken,
    SocialIdentityUnlinked,
    SocialProvider,
    SocialSignInStarted,
    StartSocialLinkResult,
    StartSocialSignInResult,
    UnknownProvider,
    UnlinkSocialIdentityResult,
)
from schema.two_factor import SecondFactorRequired
from schema.user import AuthPayload, SocialIdentity
from security.social.flows import LINK, SIGN_IN, Ticket
from security.social.providers import ProviderFailed, ProviderIdentity
from webhooks import events
from webhooks.payloads import user_fields

# A federated sign-in, in the access token's `amr` (the value identity providers use).
FEDERATED = ("fed",)
CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
ACCOUNT_EXISTS = (
    "An account already uses this address. Sign in to it another way, then link this provider from it."
)
EMAIL_UNVERIFIED = (
    "The provider did not say this address is verified; no account can be made or found from it."
)
IDENTITY_TAKEN = "This provider account is linked to another account."


async def social_providers(info: Info[Context, None]) -> list[SocialProvider]:
    return [
        SocialProvider(id=strawberry.ID(provider.id), display_name=provider.display_name)
        for provider in info.context.services.social.providers
    ]


ProviderArgument = Annotated[strawberry.ID, strawberry.argument(description="SocialProvider.id.")]
RedirectArgument = Annotated[
    str,
    strawberry.argument(description="One of SOCIAL_REDIRECT_URIS, exactly: where the browser comes back."),
]
ChallengeArgument = Annotated[
    str,
    strawberry.argument(
        description="BASE64URL(SHA256(codeVerifier)) of the app's own verifier, 43 characters."
    ),
]
TicketArgument = Annotated[strawberry.ID, strawberry.argument(description="The `ticket` of the redirect.")]
VerifierArgument = Annotated[
    str, strawberry.argument(description="The app's verifier whose challenge started the flow.")
]


async def start_social_sign_in(
    info: Info[Context, None],
    provider: ProviderArgument,
    redirect_uri: RedirectArgument,
    code_challenge: ChallengeArgument,
) -> StartSocialSignInResult:
    return await _start(info.context, str(provider), redirect_uri, code_challenge, purpose=SIGN_IN)


async def start_social_link(
    info: Info[Context, None],
    provider: ProviderArgument,
    redirect_uri: RedirectArgument,
    code_challenge: ChallengeArgument,
) -> StartSocialLinkResult:
    context = info.context
    stale = await require_recent_sign_in(context)  # Unauthenticated without a token
    if stale is not None:
        return stale
    user = await context.current_user()
    return await _start(
        context, str(provider), redirect_uri, code_challenge, purpose=LINK, user_id=str(user.id)
    )


async def _start(
    context: Context,
    provider_id: str,
    redirect_uri: str,
    code_challenge: str,
    *,
    purpose: str,
    user_id: str | None = None,
) -> SocialSignInStarted | UnknownProvider | RedirectNotAllowed:
    services = context.services
    provider = services.social.find(provider_id)
    if provider is None:
        return UnknownProvider(message="No provider with this id is configured.")
    if redirect_uri not in services.social.redirect_uris:
        return RedirectNotAllowed(message="This redirectUri is not one of the server's SOCIAL_REDIRECT_URIS.")
    if not CHALLENGE.fullmatch(code_challenge):
        raise GraphQLError(
            "codeChallenge must be BASE64URL(SHA256(codeVerifier)): 43 characters of A-Z a-z 0-9 - _.",
            extensions={"code": ErrorCode.BAD_USER_INPUT},
        )
    flow = await services.social_flows.open(
        provider=provider.id,
        challenge=code_challenge,
        redirect_uri=redirect_uri,
        purpose=purpose,
        user_id=user_id,
    )
    try:
        url = await services.provider_clients.authorization_url(
            provider, state=flow.state, nonce=flow.nonce, verifier=flow.verifier
        )
    except ProviderFailed as failure:  # its discovery document is out of reach or wrong
        context.security_event("social_provider_failed", provider=provider.id)
        raise GraphQLError(
            f"{provider.display_name} cannot be reached; try again in a moment.",
            extensions={"code": ErrorCode.SERVICE_UNAVAILABLE},
        ) from failure
    context.security_event(f"social_{purpose}_started", provider=provider.id, user=user_id)
    return SocialSignInStarted(authorization_url=url, expires_at=flow.expires)


async def complete_social_sign_in(
    info: Info[Context, None],
    ticket: TicketArgument,
    code_verifier: VerifierArgument,
    profile: Annotated[
        ProfileInput | None,
        strawberry.argument(
            description="Names (and phone) for a new account whose provider gave none; else ignored."
        ),
    ] = None,
) -> CompleteSocialSignInResult:
    context = info.context
    found = await _ticket(context, str(ticket), code_verifier, purpose=SIGN_IN)
    if isinstance(found, FlowExpired):
        return found
    identity = found.identity
    provider = context.services.social.find(found.provider)
    if provider is None:  # removed from the configuration since
        return flow_expired()
    linked = await _linked(found.provider, identity.subject)
    if linked is not None:
        user, record = linked
        if not await context.services.social_flows.spend(str(ticket)):
            return flow_expired()
        record.email = _address(identity)
        record.last_used_at = utc_now()
        await record.replace()
        context.security_event("social_sign_in", provider=provider.id, user=str(user.id))
        return await sign_in(context, user, amr=FEDERATED)
    email = _address(identity) if identity.email_verified else None
    if email is None:
        if not await context.services.social_flows.spend(str(ticket)):
            return flow_expired()
        context.security_event("social_email_unverified", provider=provider.id)
        return SocialEmailUnverified(message=EMAIL_UNVERIFIED)
    existing = await User.by_email(email)
    if existing is not None:
        # Spent first, or a completion racing one that just made this account would find
        # it and answer SocialAccountExists: every answer but one must be FlowExpired.
        if not await context.services.social_flows.spend(str(ticket)):
            return flow_expired()
        if not (provider.trust_email and existing.email_proven) or await _has_provider(existing, provider.id):
            context.security_event("social_account_exists", provider=provider.id, email=email)
            return SocialAccountExists(message=ACCOUNT_EXISTS)
        if await _link(existing, provider.id, identity, email) is None:
            return flow_expired()  # another request linked this identity meanwhile
        context.security_event("social_linked", provider=provider.id, user=str(existing.id), automatic=1)
        await context.services.webhooks.emit(
            events.SOCIAL_IDENTITY_LINKED, existing, identity={"provider": provider.id}
        )
        return await sign_in(context, existing, amr=FEDERATED)
    problems: dict[str, str] = {}
    first = _name(problems, "firstName", identity.given_name, profile.first_name if profile else None)
    last = _name(problems, "lastName", identity.family_name, profile.last_name if profile else None)
    phone = None
    if profile is not None and profile.phone:
        try:
            phone = normalize_phone(profile.phone)
        except InvalidValue as error:
            problems["phone"] = str(error)
    if problems:
        return invalid_input(problems)  # the ticket stays usable
    refused = await before_sign_up(context, email, "social")
    if refused is not None:
        await context.services.social_flows.spend(str(ticket))
        return refused
    if not await context.services.social_flows.spend(str(ticket)):
        return flow_expired()
    now = utc_now()
    user = User(
        email=email,
        password_hash=NO_PASSWORD,
        first_name=first,
        last_name=last,
        phone=phone,
        created_at=now,
        updated_at=now,
    )
    try:
        await user.insert()
    except DuplicateKeyError:  # registered meanwhile: by this identity's other sign-in, or not
        return await _lost_race(context, provider.id, identity, email)
    if await _link(user, provider.id, identity, email) is None:  # linked elsewhere meanwhile
        await user.remove(announce=context.services.users)
        return await _lost_race(context, provider.id, identity, email)
    context.security_event("social_account_created", provider=provider.id, user=str(user.id), email=email)
    await context.services.webhooks.emit(events.USER_CREATED, user, user_fields(user))
    await context.services.webhooks.emit(
        events.SOCIAL_IDENTITY_LINKED, user, identity={"provider": provider.id}
    )
    return await sign_in(context, user, amr=FEDERATED)


async def _lost_race(
    context: Context, provider: str, identity: ProviderIdentity, email: str
) -> AuthPayload | SecondFactorRequired | FlowExpired | SocialAccountExists:
    """Another request made the account (or linked the identity) first: if that was this
    identity's own sign-in racing, sign into what it linked; else the address is taken."""
    linked = await _linked(provider, identity.subject)
    if linked is not None:
        return await sign_in(context, linked[0], amr=FEDERATED)
    context.security_event("social_account_exists", provider=provider, email=email)
    return SocialAccountExists(message=ACCOUNT_EXISTS)


async def complete_social_link(
    info: Info[Context, None], ticket: TicketArgument, code_verifier: VerifierArgument
) -> CompleteSocialLinkResult:
    context = info.context
    user = await context.current_user()
    found = await _ticket(context, str(ticket), code_verifier, purpose=LINK)
    if isinstance(found, FlowExpired):
        return found
    if found.user_id != str(user.id):  # a link started by another account's session
        context.security_event("social_link_other_account", user=str(user.id))
        return flow_expired()
    if not await context.services.social_flows.spend(str(ticket)):
        return flow_expired()
    identity = found.identity
    linked = await _linked(found.provider, identity.subject)
    if linked is not None:
        if str(linked[0].id) == str(user.id):
            return SocialIdentityLinked(user=public_user(user))
        context.security_event("social_link_taken", provider=found.provider, user=str(user.id))
        return SocialIdentityTaken(message=IDENTITY_TAKEN)
    if await _has_provider(user, found.provider):
        return SocialIdentityTaken(
            message="Another account of this provider is linked to your account; unlink it first."
        )
    if await _link(user, found.provider, identity, _address(identity)) is None:
        return SocialIdentityTaken(message=IDENTITY_TAKEN)
    context.security_event("social_linked", provider=found.provider, user=str(user.id), automatic=0)
    await context.services.webhooks.emit(
        events.SOCIAL_IDENTITY_LINKED, user, identity={"provider": found.provider}
    )
    return SocialIdentityLinked(user=public_user(user))


async def unlink_social_identity(
    info: Info[Context, None], provider: ProviderArgument
) -> UnlinkSocialIdentityResult:
    context = info.context
    stale = await require_recent_sign_in(context)
    if stale is not None:
        return stale
    user = await context.current_user()
    record = await IdentityDocument.find_one(
        IdentityDocument.user_id == str(user.id), IdentityDocument.provider == str(provider)
    )
    if record is None:
        return NotFound(message="No identity of this provider is linked to your account.")
    if not await _other_way_in(user, record):
        return LastSignInMethod(message="This is your account's only way to sign in: set a password first.")
    await record.delete()
    # Two unlinks racing could each have seen the other's identity: count again after.
    if not await _other_way_in(user, None):
        await record.insert()
        return LastSignInMethod(message="This is your account's only way to sign in: set a password first.")
    context.security_event("social_unlinked", provider=str(provider), user=str(user.id))
    await context.services.webhooks.emit(
        events.SOCIAL_IDENTITY_UNLINKED, user, identity={"provider": str(provider)}
    )
    return SocialIdentityUnlinked(user=public_user(user))


async def identities_of(user_id: str) -> list[SocialIdentity]:
    found = await IdentityDocument.find(IdentityDocument.user_id == user_id).to_list()
    return [
        SocialIdentity(
            provider=strawberry.ID(record.provider),
            email=record.email,
            linked_at=record.linked_at,
            last_used_at=record.last_used_at,
        )
        for record in sorted(found, key=lambda record: record.linked_at)
    ]


async def _ticket(context: Context, ticket: str, verifier: str, *, purpose: str) -> Ticket | FlowExpired:
    """The ticket if the verifier is the one whose challenge started its flow. A wrong
    verifier spends it: a ticket that leaked gets one guess, and the guess is useless."""
    flows = context.services.social_flows
    found = await flows.ticket(ticket)
    if found is None or found.purpose != purpose:
        return flow_expired()
    if not found.verifier_matches(verifier):
        await flows.spend(ticket)
        context.security_event("social_ticket_wrong_verifier", provider=found.provider)
        return flow_expired()
    return found


async def _linked(provider: str, subject: str) -> tuple[User, IdentityDocument] | None:
    """The account the identity signs into; an identity left by a deleted account is removed."""
    record = await IdentityDocument.find_one(
        IdentityDocument.provider == provider, IdentityDocument.subject == subject
    )
    if record is None:
        return None
    user = await User.get(PydanticObjectId(record.user_id))
    if user is None:
        await record.delete()
        return None
    return user, record


async def _has_provider(user: User, provider: str) -> bool:
    return (
        await IdentityDocument.find_one(
            IdentityDocument.user_id == str(user.id), IdentityDocument.provider == provider
        )
        is not None
    )


async def _link(
    user: User, provider: str, identity: ProviderIdentity, email: str | None
) -> IdentityDocument | None:
    """The identity linked to `user`; None if the unique index says it is linked already."""
    now = utc_now()
    record = IdentityDocument(
        provider=provider,
        subject=identity.subject,
        user_id=str(user.id),
        email=email,
        linked_at=now,
        last_used_at=now,
    )
    try:
        await record.insert()
    except DuplicateKeyError:
        return None
    return record


async def _other_way_in(user: User, leaving: IdentityDocument | None) -> bool:
    """Whether the account can still sign in without `leaving`: a password, another
    identity or a passkey."""
    return await other_way_in(user.id, leaving_identity=leaving)


def _address(identity: ProviderIdentity) -> str | None:
    if identity.email is None:
        return None
    try:
        return normalize_email(identity.email)
    except InvalidValue:
        return None


def _name(problems: dict[str, str], field: str, given: str | None, typed: str | None) -> str:
    """The provider's name if it is a name, else the one the person typed, else a problem."""
    for candidate in (given, typed):
        if candidate:
            try:
                return clean_name(candidate)
            except InvalidValue as error:
                if candidate is typed:
                    problems[field] = str(error)
                    return ""
    problems[field] = (
        f"The provider gave no {'first' if field == 'firstName' else 'last'} name: give profile.{field}."
    )
    return ""
