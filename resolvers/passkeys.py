"""Passkeys: adding one (signed in, recent sign-in), signing in with one (with an email
or without), renaming and removing one (security/passkeys.py has the WebAuthn side).

A passkey sign-in with user verification is multi-factor by itself (possession of the
key, and the PIN or biometric the authenticator checked): it opens a session directly,
never SecondFactorRequired, whatever the account's two-factor. Its `amr` (RFC 8176):
"hwk" for a device-bound credential (the key never leaves the authenticator's hardware)
or "swk" for a synced one (the key is copied between devices by software), "user" (the
authenticator tested the user's presence) and "mfa". Not "pin" or "fpt": the
authenticator does not say which way it verified the user.

Failures on a known account (a credential of the address typed, or of the account the
credential names) count into that address's lockout like wrong passwords, and are
security events; a signature counter that goes back is refused as a cloned key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import strawberry
from beanie import PydanticObjectId
from bson.errors import InvalidId
from pymongo.errors import DuplicateKeyError
from strawberry.types import Info
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.structs import AuthenticationCredential

from documents.fields import InvalidValue, clean_name, normalize_email
from documents.passkey import Passkey as PasskeyDocument
from documents.user import User, UserChanged, UserGone, utc_now
from mail import notices, passkey_notice_message
from resolvers.auth.lockout_answers import count_failure, refused_while_locked
from resolvers.auth.reauthentication import require_recent_sign_in
from resolvers.auth.signin import public_user, signed_in
from resolvers.auth.ways_in import other_way_in
from schema.context import Context, Unauthenticated
from schema.passkeys import (
    FinishPasskeyRegistrationResult,
    FinishPasskeySignInResult,
    PasskeyAdded,
    PasskeyOptions,
    PasskeyRejected,
    PasskeyRemoved,
    PasskeyRenamed,
    RemovePasskeyResult,
    RenamePasskeyResult,
    StartPasskeyRegistrationResult,
    StartPasskeySignInResult,
)
from schema.problems import LastSignInMethod, NotFound, flow_expired, invalid_input
from schema.user import Passkey
from security.passkeys import (
    Ceremony,
    Issued,
    PasskeyRefused,
    Purpose,
    counter_went_back,
    descriptor,
    new_user_handle,
    read_assertion,
)
from webhooks import events

ChallengeId = Annotated[
    strawberry.ID, strawberry.argument(description="The challengeId of the PasskeyOptions answered.")
]
CredentialJson = Annotated[
    str, strawberry.argument(description="The credential's toJSON(), as a JSON string.")
]
PasskeyId = Annotated[strawberry.ID, strawberry.argument(description="The passkey's id.")]
REJECTED = "The passkey could not be verified."
LAST_WAY_IN = "This passkey is your account's only way to sign in: set a password or add another first."
NOT_FOUND = "No such passkey on your account."
# Matches no account: the lookup an address without an account still makes (same work).
NOBODY = "0" * 24
OPERATION = "finishPasskeySignIn"
# Passkeys one account may hold: more than anyone uses, few enough to list and exclude.
MAX_PASSKEYS = 20


async def start_passkey_registration(info: Info[Context, None]) -> StartPasskeyRegistrationResult:
    context = info.context
    stale = await require_recent_sign_in(context)
    if stale is not None:
        return stale
    user = await _with_user_handle(context, await context.current_user())
    assert user.passkey_user_handle is not None
    owned = await _passkeys(str(user.id))
    issued = await context.services.passkeys.registration(
        user_id=str(user.id),
        user_handle=user.passkey_user_handle,
        email=user.email,
        display_name=f"{user.first_name} {user.last_name}".strip(),
        exclude=[descriptor(each.credential_id, each.transports) for each in owned],
    )
    context.security_event("passkey_registration_started", user=str(user.id))
    return _options(issued)


async def finish_passkey_registration(
    info: Info[Context, None],
    challenge_id: ChallengeId,
    credential_json: CredentialJson,
    name: Annotated[
        str | None,
        strawberry.argument(
            description=(
                "What to call it (1 to 100 characters); default: the authenticator's kind and the date."
            )
        ),
    ] = None,
) -> FinishPasskeyRegistrationResult:
    context = info.context
    user = await context.current_user()
    user_id = str(user.id)
    chosen = None
    if name is not None:
        try:
            chosen = clean_name(name)
        except InvalidValue as error:  # checked first: the challenge stays usable
            return invalid_input({"name": str(error)})
    ceremony = await context.services.passkeys.take(str(challenge_id))
    if ceremony is None or ceremony.purpose is not Purpose.REGISTRATION or ceremony.user_id != user_id:
        return flow_expired()
    try:
        new = context.services.passkeys.verify_registration(ceremony, credential_json)
    except PasskeyRefused as refused:
        context.security_event("passkey_registration_rejected", user=user_id, reason=refused.reason)
        return PasskeyRejected(message=REJECTED)
    if len(await _passkeys(user_id)) >= MAX_PASSKEYS:
        context.security_event("passkey_registration_rejected", user=user_id, reason="too many passkeys")
        return PasskeyRejected(message=f"An account holds at most {MAX_PASSKEYS} passkeys: remove one first.")
    now = utc_now()
    record = PasskeyDocument(
        user_id=user_id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        transports=new.transports,
        aaguid=new.aaguid,
        multi_device=new.multi_device,
        backed_up=new.backed_up,
        name=chosen or f"{_kind(new.multi_device, new.attachment)} {now.date().isoformat()}",
        created_at=now,
    )
    try:
        await record.insert()
    except DuplicateKeyError:
        context.security_event("passkey_registration_rejected", user=user_id, reason="credential id taken")
        return PasskeyRejected(message="This passkey is already registered.")
    await _tell(context, user, record, "passkey_added", events.PASSKEY_ADDED)
    return PasskeyAdded(passkey=_public(record))


async def start_passkey_sign_in(
    info: Info[Context, None],
    email: Annotated[
        str | None,
        strawberry.argument(description="The account's address; omitted: a usernameless sign-in."),
    ] = None,
) -> StartPasskeySignInResult:
    context = info.context
    ceremonies = context.services.passkeys
    if email is None:
        return _options(await ceremonies.sign_in(None, None))
    try:
        address = normalize_email(email)
    except InvalidValue:
        address = email.strip().lower()[:254]  # no account has it: decoys, like any unknown address
    user = await User.by_email(address)
    # The same lookups either way, so the answer takes as long with or without an account.
    owned = await _passkeys(str(user.id) if user is not None else NOBODY)
    if owned:
        allow = [descriptor(each.credential_id, each.transports) for each in owned]
    else:
        allow = ceremonies.decoys(address)
    return _options(await ceremonies.sign_in(address, allow))


@dataclass(frozen=True)
class Failure:
    """A refused assertion (falsy: the lockout counts it); `reason` for the security log."""

    reason: str

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class Verified:
    passkey: PasskeyDocument


async def finish_passkey_sign_in(
    info: Info[Context, None], challenge_id: ChallengeId, credential_json: CredentialJson
) -> FinishPasskeySignInResult:
    context = info.context
    services = context.services
    ceremony = await services.passkeys.take(str(challenge_id))
    if ceremony is None or ceremony.purpose is not Purpose.SIGN_IN:
        return flow_expired()
    try:
        credential = read_assertion(credential_json)
    except PasskeyRefused as refused:
        return await _refuse(context, ceremony.address, Failure(refused.reason))
    stored = await PasskeyDocument.find_one(PasskeyDocument.credential_id == credential.id)
    user = await _user(stored.user_id) if stored is not None else None
    if stored is not None and user is None:  # left behind by an account deletion: removed now
        await stored.delete()
    if stored is None or user is None:
        return await _refuse(context, ceremony.address, Failure("unknown credential"))
    if ceremony.address is not None and user.email != ceremony.address:
        return await _refuse(context, ceremony.address, Failure("credential of another account"))

    version = user.credential_version

    async def check() -> Verified | Failure:
        assert stored is not None and user is not None
        return await _verify(context, ceremony, credential, stored, user)

    checked = await services.lockout.check(user.email, check, client=context.client_bucket)
    user_id = str(user.id)
    if checked.refused_for is not None:
        return refused_while_locked(
            context, OPERATION, "passkey_sign_in_refused_locked", checked.refused_for, user=user_id
        )
    verified = checked.value
    if not isinstance(verified, Verified):
        reason = verified.reason if isinstance(verified, Failure) else "refused"
        count_failure(
            context,
            OPERATION,
            "passkey_sign_in_failed",
            locked=checked.locked,
            address_locked=checked.address_locked,
            address=user.email,
            user=user_id,
            reason=reason,
        )
        return PasskeyRejected(message=REJECTED)
    kind = "swk" if verified.passkey.multi_device else "hwk"
    context.security_event("passkey_sign_in_succeeded", user=user_id, passkey=str(verified.passkey.id))
    # Valid under the credentials read before the verification: a "log out everywhere" (or
    # an operator's disable) that lands meanwhile ends this session too (FlowExpired).
    return await signed_in(context, user, amr=(kind, "user", "mfa"), credential_version=version)


async def _verify(
    context: Context,
    ceremony: Ceremony,
    credential: AuthenticationCredential,
    stored: PasskeyDocument,
    user: User,
) -> Verified | Failure:
    """The assertion verified against `stored`, its user handle the account's, its counter
    moved on; then the counter, backup state and last use stored (conditionally on the
    counter read, so of two sign-ins racing with one counter value one wins)."""
    handle = credential.response.user_handle
    if handle is not None:
        if user.passkey_user_handle is None or bytes_to_base64url(handle) != user.passkey_user_handle:
            return Failure("user handle of another account")
    elif ceremony.address is None:  # a discoverable credential always names its user
        return Failure("no user handle")
    try:
        verified = context.services.passkeys.verify_assertion(ceremony, credential, stored.public_key)
    except PasskeyRefused as refused:
        return Failure(refused.reason)
    previous = stored.sign_count
    if counter_went_back(previous, verified.new_sign_count):
        context.security_event(
            "passkey_clone_suspected",
            user=str(user.id),
            passkey=str(stored.id),
            stored=previous,
            presented=verified.new_sign_count,
        )
        return Failure("signature counter went back")
    stored.sign_count = verified.new_sign_count
    stored.backed_up = verified.credential_backed_up
    stored.last_used_at = utc_now()
    if not await stored.replace_if({"sign_count": previous}):
        return Failure("counter raced")
    return Verified(stored)


async def _refuse(context: Context, address: str | None, failure: Failure) -> FinishPasskeySignInResult:
    """A refusal before any account's key was tried: counted into the typed address's
    lockout when there is one (an unknown credential offered for it), else only logged."""
    if address is None:
        context.security_event("passkey_sign_in_failed", reason=failure.reason)
        return PasskeyRejected(message=REJECTED)

    async def check() -> Failure:
        return failure

    checked = await context.services.lockout.check(address, check, client=context.client_bucket)
    if checked.refused_for is not None:
        return refused_while_locked(
            context, OPERATION, "passkey_sign_in_refused_locked", checked.refused_for, email=address
        )
    count_failure(
        context,
        OPERATION,
        "passkey_sign_in_failed",
        locked=checked.locked,
        address_locked=checked.address_locked,
        address=address,
        email=address,
        reason=failure.reason,
    )
    return PasskeyRejected(message=REJECTED)


async def rename_passkey(
    info: Info[Context, None],
    id: PasskeyId,
    name: Annotated[str, strawberry.argument(description="The new name, 1 to 100 characters.")],
) -> RenamePasskeyResult:
    context = info.context
    user = await context.current_user()
    try:
        chosen = clean_name(name)
    except InvalidValue as error:
        return invalid_input({"name": str(error)})
    record = await _owned(str(user.id), str(id))
    if record is None:
        return NotFound(message=NOT_FOUND)
    await PasskeyDocument.get_pymongo_collection().update_one({"_id": record.id}, {"$set": {"name": chosen}})
    record.name = chosen
    context.security_event("passkey_renamed", user=str(user.id), passkey=str(record.id))
    return PasskeyRenamed(passkey=_public(record))


async def remove_passkey(info: Info[Context, None], id: PasskeyId) -> RemovePasskeyResult:
    context = info.context
    stale = await require_recent_sign_in(context)
    if stale is not None:
        return stale
    user = await context.current_user()
    user_id = str(user.id)
    record = await _owned(user_id, str(id))
    if record is None:
        return NotFound(message=NOT_FOUND)
    if not await other_way_in(user.id, leaving_passkey=record):
        return LastSignInMethod(message=LAST_WAY_IN)
    await record.delete()
    # Two removals racing could each have counted the other's passkey: count again after.
    if not await other_way_in(user.id):
        await record.insert()
        return LastSignInMethod(message=LAST_WAY_IN)
    await _tell(context, user, record, "passkey_removed", events.PASSKEY_REMOVED)
    return PasskeyRemoved(user=public_user(user))


async def passkeys_of(user_id: str) -> list[Passkey]:
    """The account's passkeys as the schema shows them, oldest first (User.passkeys)."""
    return [_public(each) for each in await _passkeys(user_id)]


async def _with_user_handle(context: Context, user: User) -> User:
    """`user`, with its passkey user handle made at its first registration."""
    if user.passkey_user_handle is not None:
        return user
    try:
        await user.write_changes(
            {"passkey_user_handle": new_user_handle()},
            announce=context.services.users,
            touch=False,
            require={"passkey_user_handle": None},
        )
    except UserGone:
        raise Unauthenticated() from None
    except UserChanged:  # a racing start made it: use that one
        fresh = await User.get(user.id)
        if fresh is None:
            raise Unauthenticated() from None
        return fresh
    return user


async def _passkeys(user_id: str) -> list[PasskeyDocument]:
    found = await PasskeyDocument.find(PasskeyDocument.user_id == user_id).to_list()
    return sorted(found, key=lambda each: each.created_at)


async def _owned(user_id: str, passkey_id: str) -> PasskeyDocument | None:
    try:
        record = await PasskeyDocument.get(PydanticObjectId(passkey_id))
    except (InvalidId, TypeError, ValueError):
        return None
    return record if record is not None and record.user_id == user_id else None


async def _user(user_id: str) -> User | None:
    try:
        return await User.get(PydanticObjectId(user_id))
    except (InvalidId, TypeError):
        return None


def _kind(multi_device: bool, attachment: str | None) -> str:
    if multi_device:
        return "Synced passkey"
    if attachment == "cross-platform":
        return "Security key"
    return "Passkey"


def _options(issued: Issued) -> PasskeyOptions:
    return PasskeyOptions(
        challenge_id=strawberry.ID(issued.challenge_id),
        options_json=issued.options_json,
        expires_at=issued.expires_at,
    )


def _public(record: PasskeyDocument) -> Passkey:
    return Passkey(
        id=strawberry.ID(str(record.id)),
        name=record.name,
        created_at=record.created_at,
        last_used_at=record.last_used_at,
        backed_up=record.backed_up,
    )


async def _tell(context: Context, user: User, record: PasskeyDocument, what: str, event: str) -> None:
    """A passkey added or removed: the security event, the webhook and the owner's notice."""
    context.security_event(what, user=str(user.id), passkey=str(record.id))
    await context.services.webhooks.emit(event, user, passkey={"id": str(record.id)})
    await notices.send(
        context.services, user, passkey_notice_message(user.email, what, record.name), context.client_bucket
    )
