"""Signing in: what every sign-in answers (the bearer-token check on later requests
is in security/identity.py).

Every way of signing in (login, a completed password reset or registration, and sign-in
by emailed code) ends in `sign_in`, naming the first factor it verified as RFC 8176
`amr` values ("pwd", "email"). That is where two-factor is enforced: for an account
with two-factor on it answers `SecondFactorRequired` (a challenge in Redis that
remembers the first factor) instead of a session, and resolvers/two_factor.py's
verifySecondFactor opens the session with the second factor added ("otp", "mfa")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import strawberry

from documents.user import User as UserDocument
from schema.context import Context
from schema.problems import AccountDisabled, FlowExpired, flow_expired
from schema.two_factor import SecondFactorMethod, SecondFactorRequired
from schema.user import AuthPayload, User
from security import clock
from security.sessions import SessionTokens
from security.user_snapshot import UserSnapshot
from webhooks import events
from webhooks.payloads import user_fields

if TYPE_CHECKING:
    from services import Services


def public_user(user: UserDocument | UserSnapshot) -> User:
    """What the user may see of the account; a snapshot (security/user_snapshot.py) has all of it."""
    return User(
        id=strawberry.ID(str(user.id)),
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        phone=user.phone,
        created_at=user.created_at,
        updated_at=user.updated_at,
        two_factor_enabled=user.two_factor_enabled,
        recovery_codes_left=user.recovery_codes_left,
        roles=list(user.roles),
        has_password=user.has_password,
    )


async def sign_in(
    context: Context,
    user: UserDocument,
    *,
    amr: tuple[str, ...],
    credential_version: int | None = None,
) -> AuthPayload | SecondFactorRequired | FlowExpired | AccountDisabled:
    """Open a new session for `user` on this device and answer its first token pair, or,
    with two-factor on, the challenge the second factor must answer first.

    `amr`: how the first factor was proven (RFC 8176: "pwd" for a password, "email" for an
    emailed code). `credential_version` is the one the password was verified against
    (login): if the password changed meanwhile, no tokens (FlowExpired, see `signed_in`)."""
    version = user.credential_version if credential_version is None else credential_version
    disabled = account_disabled(context, user)
    if disabled is not None:
        return disabled
    if user.two_factor_enabled:
        challenge = await context.services.challenges.open(str(user.id), amr, version)
        context.security_event("second_factor_required", user=str(user.id))
        methods = [SecondFactorMethod.TOTP]
        if user.recovery_codes:
            methods.append(SecondFactorMethod.RECOVERY_CODE)
        return SecondFactorRequired(
            challenge_id=strawberry.ID(challenge.challenge_id),
            expires_at=challenge.expires_at,
            methods=methods,
        )
    return await signed_in(context, user, amr=amr, credential_version=version)


def account_disabled(context: Context, user: UserDocument) -> AccountDisabled | None:
    """AccountDisabled when an operator disabled the account (until a time not yet come).
    Asked only once the person proved a factor: before, every answer is the one an unknown
    or wrong credential gets, so the answer tells nobody else the account exists."""
    if not user.disabled_now(clock.now()):
        return None
    context.security_event("sign_in_disabled", user=str(user.id))
    until = datetime.fromtimestamp(user.disabled_until, UTC) if user.disabled_until else None
    return AccountDisabled(message="This account is disabled.", until=until)


async def signed_in(
    context: Context, user: UserDocument, *, amr: tuple[str, ...], credential_version: int | None = None
) -> AuthPayload | FlowExpired | AccountDisabled:
    """A session, every factor the account needs already proven (`amr`); its client becomes
    one the account has signed in from (a sign-in by code from another one is told to the owner).

    With `credential_version` (what a login or a challenge verified against), the user's
    version is read again once the session is stored: a password change (or reset, or
    "log out everywhere") that moved it meanwhile would make these tokens dead on
    arrival, so the session is ended and the answer is FlowExpired instead. Read after
    the insert, not before: a change that lands after this read also ends the session
    (it is stored by then), so no answer carries tokens that were dead when issued."""
    disabled = account_disabled(context, user)  # disabled since the first factor (a challenge's)
    if disabled is not None:
        return disabled
    session = await open_session(context, user, credential_version, amr=amr)
    # Disabling moves the credential version on (as "log out everywhere"): a disable that
    # lands meanwhile ends this session here, or in the operator's revocation after it.
    if credential_version is not None and await _current_version(user) != credential_version:
        await context.services.sessions.revoke([session.session])
        context.security_event("sign_in_outdated", user=str(user.id))
        return flow_expired()
    await context.services.known_clients.remember(str(user.id), context.client_bucket)
    if not user.email_proven:  # an account made for someone, signed into: its owner has it
        await user.write_changes({"email_proven": True}, announce=context.services.users, touch=False)
    await _record_sign_in(user)
    payload = await auth_payload(context.services, user, session)
    await context.services.webhooks.emit(
        events.SESSION_CREATED, user, session={"id": str(session.session.id)}, amr=list(amr)
    )
    return payload


async def _current_version(user: UserDocument) -> int | None:
    """The user's credential version in MongoDB now; None if the user is gone."""
    found = await UserDocument.get_pymongo_collection().find_one({"_id": user.id}, {"credential_version": 1})
    return None if found is None else found.get("credential_version")


async def _record_sign_in(user: UserDocument) -> None:
    """When the account last signed in: a fact for the admin API only, which reads MongoDB;
    no copy a signed-in request serves shows it, so the write does not restamp the user's
    copies."""
    await UserDocument.get_pymongo_collection().update_one(
        {"_id": user.id}, {"$set": {"last_sign_in_at": int(clock.now())}}
    )


async def open_session(
    context: Context, user: UserDocument, credential_version: int | None = None, *, amr: tuple[str, ...]
) -> SessionTokens:
    """A session recorded with the caller's user agent and client IP, valid while the
    user's credential version stays `credential_version` (by default, the current one);
    its access tokens carry `amr`."""
    return await context.services.sessions.open(
        str(user.id),
        credential_version=user.credential_version if credential_version is None else credential_version,
        user_agent=context.user_agent,
        ip_address=context.client_ip,
        amr=amr,
    )


async def auth_payload(services: Services, user: UserDocument, session: SessionTokens) -> AuthPayload:
    """The token pair of `session`; with HOOK_CUSTOM_CLAIMS_URL set, the access token carries
    the hook's claims too (a failed or late hook raises HookFailed: no token at all)."""
    session_id = str(session.session.id)
    signed_in_at = session.session.auth_time or session.session.created_at
    tokens = services.tokens
    claims = tokens.claims(
        str(user.id),
        session_id,
        session.session.credential_version,
        tuple(session.session.amr),
        roles=tuple(user.roles),
        app_metadata=user.app_metadata,
        auth_time=int(signed_in_at.timestamp()),
    )
    extra = None
    if services.hooks.asks_custom_claims:
        extra = await services.hooks.custom_claims(
            {"id": str(user.id), "email": user.email, **user_fields(user)},
            session_id,
            list(session.session.amr),
            claims,
        )
    access = tokens.sign(claims, extra)
    return AuthPayload(
        access_token=access.token,
        token_type="Bearer",
        expires_in=access.expires_in,
        user=public_user(user),
        refresh_token=session.refresh_token,
        refresh_expires_in=session.refresh_expires_in,
        session_id=strawberry.ID(session_id),
    )
