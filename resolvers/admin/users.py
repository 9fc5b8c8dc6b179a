"""The admin API's accounts: find them (keyset pages), create, update, disable, enable,
end their sessions, reset their second factor, delete them.

Every write is the person's own kind of write (documents/user.py `write_changes`): only
the fields changed, announced to every process's copy, and conditional on the values the
operator's change was decided on, so a change the person made meanwhile is never
overwritten (the operator is told to read the account again instead). Every mutation
writes an audit event (resolvers/admin/audit.py)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import strawberry
from beanie import PydanticObjectId
from bson import ObjectId
from bson.errors import InvalidId
from graphql import GraphQLError
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError
from strawberry.types import Info

from documents.fields import InvalidValue, clean_name, normalize_email, normalize_phone
from documents.identity import SocialIdentity
from documents.passkey import Passkey
from documents.user import NO_PASSWORD, User, UserChanged, UserGone, utc_now
from mail import (
    email_changed_message,
    email_set_by_operator_message,
    invite_code_message,
    notices,
    two_factor_notice_message,
)
from resolvers.admin.audit import audit
from resolvers.emailed_codes import open_flow
from schema.admin import (
    AccountStatus,
    AdminSession,
    AdminUser,
    CreateUserInput,
    CreateUserResult,
    DeleteUserResult,
    PageInfo,
    RevokeUserSessionsResult,
    SessionsRevoked,
    SignInMethod,
    UpdateUserInput,
    UpdateUserResult,
    UserConnection,
    UserDeleted,
    UserEdge,
    UserFilter,
    UserResult,
)
from schema.admin_context import AdminContext
from schema.error_codes import ErrorCode
from schema.problems import AccountExists, NotFound, invalid_input
from security import clock
from security.codes import CodeIssued
from security.password_forms import hash_password
from security.password_policy import password_problems
from webhooks import events
from webhooks.payloads import camel, user_fields

PAGE_MAX = 200
AccountId = Annotated[strawberry.ID, strawberry.argument(description="AdminUser.id of the account.")]
MAX_ROLES = 32
ROLE_MAX = 64
APP_METADATA_MAX_BYTES = 4096
REASON_MAX = 500
NOT_FOUND = "No account with this id."
PERSON_FIELDS = ("email", "first_name", "last_name", "phone")
CHANGED_MEANWHILE = "Changed by someone else meanwhile; read the account again and retry."


def bad_argument(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": ErrorCode.BAD_USER_INPUT})


# ---------------------------------------------------------------- reading


async def sign_in_methods_of(user: object) -> list[SignInMethod]:
    """What the account can sign in with, in the enum's order; a linked identity and a
    passkey are read from their own collections, only when an operator asks."""
    assert isinstance(user, User)
    owner = str(user.id)
    methods = [SignInMethod.PASSWORD] if user.has_password else []
    methods.append(SignInMethod.EMAIL_CODE)  # sign-in by emailed code is on for every account
    if await SocialIdentity.find_one(SocialIdentity.user_id == owner) is not None:
        methods.append(SignInMethod.SOCIAL)
    if await Passkey.find_one(Passkey.user_id == owner) is not None:
        methods.append(SignInMethod.PASSKEY)
    if user.two_factor_enabled:
        methods.append(SignInMethod.TOTP)
    return methods


def admin_user(user: User) -> AdminUser:
    disabled = user.disabled_now(clock.now())
    return AdminUser(
        id=strawberry.ID(str(user.id)),
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        phone=user.phone,
        status=AccountStatus.DISABLED if disabled else AccountStatus.ACTIVE,
        disabled_until=_from_epoch(user.disabled_until) if disabled and user.disabled_until else None,
        disabled_reason=user.disabled_reason if disabled else None,
        roles=list(user.roles),
        app_metadata=dict(user.app_metadata),
        email_verified=user.email_proven,
        created_at=user.created_at,
        last_sign_in_at=_from_epoch(user.last_sign_in_at) if user.last_sign_in_at else None,
        document=user,
    )


async def sessions_of(info: Info[AdminContext, None], user: Any) -> list[AdminSession]:
    live = await info.context.services.sessions.live(str(user.id), user.credential_version)
    return [
        AdminSession(
            id=strawberry.ID(str(session.id)),
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            expires_at=session.expires_at,
            user_agent=session.user_agent,
            ip_address=session.ip_address,
        )
        for session in live
    ]


async def user(
    info: Info[AdminContext, None],
    id: Annotated[strawberry.ID | None, strawberry.argument(description="The account's id.")] = None,
    email: Annotated[str | None, strawberry.argument(description="The account's address (any case).")] = None,
) -> AdminUser | None:
    if (id is None) == (email is None):
        raise bad_argument("Give exactly one of id and email.")
    if id is not None:
        found = await _by_id(id)
    else:
        try:
            found = await User.by_email(normalize_email(email or ""))
        except InvalidValue:
            found = None
    return None if found is None else admin_user(found)


async def users(
    info: Info[AdminContext, None],
    filter: Annotated[
        UserFilter | None, strawberry.argument(description="Only accounts it matches; null: all.")
    ] = None,
    first: Annotated[int, strawberry.argument(description="1 to 200.")] = 50,
    after: Annotated[
        str | None, strawberry.argument(description="PageInfo.endCursor of the page before.")
    ] = None,
) -> UserConnection:
    if not 1 <= first <= PAGE_MAX:
        raise bad_argument(f"first must be 1 to {PAGE_MAX}.")
    query = _user_query(filter or UserFilter())
    if after is not None:
        query["_id"] = {"$gt": _read_cursor(after)}
    records = (
        await User.get_pymongo_collection().find(query).sort("_id", ASCENDING).limit(first + 1).to_list(None)
    )
    found = [User.model_validate(record) for record in records[:first]]
    edges = [UserEdge(cursor=_cursor(str(each.id)), node=admin_user(each)) for each in found]
    return UserConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(records) > first, end_cursor=edges[-1].cursor if edges else None
        ),
    )


def _user_query(filter: UserFilter) -> dict[str, Any]:
    """The MongoDB filter; each condition served by an index (documents/user.py)."""
    query: dict[str, Any] = {}
    if filter.email_prefix:
        prefix = filter.email_prefix.strip().lower()
        query["email"] = {"$gte": prefix, "$lt": prefix + "\uffff"}  # a range on email_unique
    if filter.role is not None:
        # $in, not equality: the same in MongoDB, and nx-27017's indexed equality misses array members.
        query["roles"] = {"$in": [filter.role]}
    created: dict[str, datetime] = {}
    if filter.created_after is not None:
        created["$gt"] = _utc(filter.created_after)
    if filter.created_before is not None:
        created["$lt"] = _utc(filter.created_before)
    if created:
        query["created_at"] = created
    now = int(clock.now())
    if filter.status == AccountStatus.DISABLED:
        query["disabled"] = True
        query["$or"] = [{"disabled_until": 0}, {"disabled_until": {"$gt": now}}]
    elif filter.status == AccountStatus.ACTIVE:
        query["$or"] = [{"disabled": {"$ne": True}}, {"disabled_until": {"$gt": 0, "$lte": now}}]
    return query


def _cursor(user_id: str) -> str:
    return base64.urlsafe_b64encode(user_id.encode()).decode().rstrip("=")


def _read_cursor(cursor: str) -> ObjectId:
    try:
        return ObjectId(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError, InvalidId, TypeError):
        raise bad_argument("after is not a cursor this server gave out.") from None


# ---------------------------------------------------------------- validation


def _roles(value: list[str], problems: dict[str, str]) -> list[str] | None:
    roles = list(dict.fromkeys(role.strip() for role in value))
    if len(roles) > MAX_ROLES:
        problems["roles"] = f"At most {MAX_ROLES} roles."
        return None
    for role in roles:
        if not 1 <= len(role) <= ROLE_MAX or not all(
            char.isascii() and (char.isalnum() or char in "_.:/-") for char in role
        ):
            problems["roles"] = f"Each role is 1-{ROLE_MAX} characters: letters, digits and _ . : / -."
            return None
    return roles


def _app_metadata(value: Any, problems: dict[str, str]) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        problems["appMetadata"] = "Must be a JSON object."
        return None
    try:
        encoded = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        problems["appMetadata"] = "Must be plain JSON."
        return None
    if len(encoded) > APP_METADATA_MAX_BYTES:
        problems["appMetadata"] = f"Must be at most {APP_METADATA_MAX_BYTES} bytes as JSON."
        return None
    return value


def _profile(values: dict[str, str | None], problems: dict[str, str]) -> dict[str, str | None]:
    """The cleaned first name, last name, phone and email of those given."""
    cleaned: dict[str, str | None] = {}
    for field, attribute, clean in (
        ("firstName", "first_name", clean_name),
        ("lastName", "last_name", clean_name),
        ("email", "email", normalize_email),
    ):
        value = values.get(attribute)
        if value is not None:
            try:
                cleaned[attribute] = clean(value)
            except InvalidValue as error:
                problems[field] = str(error)
    phone = values.get("phone")
    if phone is not None:
        try:
            cleaned["phone"] = normalize_phone(phone) if phone.strip() else None
        except InvalidValue as error:
            problems["phone"] = str(error)
    return cleaned


# ---------------------------------------------------------------- writing


async def create_user(
    info: Info[AdminContext, None],
    input: Annotated[CreateUserInput, strawberry.argument(description="The new account.")],
) -> CreateUserResult:
    context = info.context
    key = await context.key()
    problems: dict[str, str] = {}
    profile = _profile(
        {
            "email": input.email,
            "first_name": input.first_name,
            "last_name": input.last_name,
            "phone": input.phone,
        },
        problems,
    )
    roles = _roles(input.roles or [], problems)
    app_metadata = _app_metadata({} if input.app_metadata is None else input.app_metadata, problems)
    if input.password is not None and "email" in profile:
        reasons = password_problems(input.password, str(profile["email"]))
        if reasons:
            problems["password"] = " ".join(reasons)
    if problems:
        return invalid_input(problems)
    if input.invite:  # an invited account is a sign-up: the operator's policy (hooks.graphql) is asked
        refused = await context.services.hooks.before_sign_up(str(profile["email"]), "invite")
        if refused is not None:
            return invalid_input({"email": refused})
    passwords = context.services.passwords
    # With no password, none (NO_PASSWORD): a login to it costs the same argon2 verify as a
    # wrong password (security/password_forms.py), so its timing tells nobody.
    password_hash = NO_PASSWORD if input.password is None else await hash_password(passwords, input.password)
    now = utc_now()
    created = User(
        email=str(profile["email"]),
        password_hash=password_hash,
        first_name=str(profile["first_name"]),
        last_name=str(profile["last_name"]),
        phone=profile.get("phone"),
        created_at=now,
        updated_at=now,
        roles=roles or [],
        app_metadata=app_metadata or {},
        email_proven=False,
    )
    try:
        await created.insert()
    except DuplicateKeyError:
        return AccountExists(message="An account with this address exists.")
    invited = False
    if input.invite:
        invited = await _invite(context, created.email)
    await audit(
        context,
        key,
        "user_created",
        str(created.id),
        {
            "after": _visible(created),
            "passwordSet": input.password is not None,
            "invited": invited,
        },
    )
    await context.services.webhooks.emit(events.USER_CREATED, created, user_fields(created))
    return UserResult(user=admin_user(created))


async def _invite(context: AdminContext, email: str) -> bool:
    """Mail the new account a sign-in code (a sign-in by emailed code, through the outbox);
    False when the address's mail quota refused it."""
    minutes = context.services.settings.code_ttl_seconds // 60

    def mail(issued: CodeIssued) -> Any:
        assert issued.code is not None  # the account exists: the flow holds a code
        return invite_code_message(issued.email, issued.code, minutes, issued.flow_id)

    issued = await open_flow(
        context,  # type: ignore[arg-type] # what open_flow reads of a Context, AdminContext has
        context.services.code_logins,
        email,
        codes_for_account_holders=True,
        mail=mail,
    )
    return isinstance(issued, CodeIssued)


async def update_user(
    info: Info[AdminContext, None],
    id: AccountId,
    input: Annotated[UpdateUserInput, strawberry.argument(description="The fields to change.")],
) -> UpdateUserResult:
    context = info.context
    key = await context.key()
    found = await _by_id(id)
    if found is None:
        return NotFound(message=NOT_FOUND)
    problems: dict[str, str] = {}
    given = {
        "email": input.email,
        "first_name": input.first_name,
        "last_name": input.last_name,
        "phone": input.phone,
    }
    wanted: dict[str, Any] = _profile(given, problems)
    if input.roles is not None:
        wanted["roles"] = _roles(input.roles, problems)
    if input.app_metadata is not None:
        wanted["app_metadata"] = _app_metadata(input.app_metadata, problems)
    if problems:
        return invalid_input(problems)
    changes = {name: value for name, value in wanted.items() if getattr(found, name) != value}
    if not changes:
        return UserResult(user=admin_user(found))
    before = {name: getattr(found, name) for name in changes}
    # The fields the person can change too (profile, email change): written only while they
    # still hold what the operator's change was decided on. Roles and app metadata are the
    # operator's alone.
    require = {name: value for name, value in before.items() if name in PERSON_FIELDS}
    old_email = found.email
    if "email" in changes:
        changes["email_proven"] = True  # an address an operator sets is taken as verified
    try:
        await found.write_changes(changes, announce=context.services.users, require=require)
    except UserGone:
        return NotFound(message=NOT_FOUND)
    except UserChanged:
        return invalid_input({_graphql_name(name): CHANGED_MEANWHILE for name in require})
    except DuplicateKeyError:
        return AccountExists(message="Another account has this address.")
    if "email" in changes:
        await notices.send(context.services, found, email_changed_message(old_email, found.email), None)
        await notices.send(
            context.services, found, email_set_by_operator_message(found.email, old_email), None
        )
    after = {name: getattr(found, name) for name in before}
    await audit(
        context,
        key,
        "user_updated",
        str(found.id),
        {"before": _named(before), "after": _named(after)},
    )
    if "email" in changes:
        await context.services.webhooks.emit(events.EMAIL_CHANGED, found, previous_email=old_email)
    changed = sorted(camel(name) for name in changes if name not in ("email", "email_proven"))
    if changed:
        await context.services.webhooks.emit(events.USER_UPDATED, found, user_fields(found), changed=changed)
    return UserResult(user=admin_user(found))


async def disable_user(
    info: Info[AdminContext, None],
    id: AccountId,
    until: Annotated[datetime | None, strawberry.argument(description="Omitted: until enableUser.")] = None,
    reason: Annotated[str | None, strawberry.argument(description="Shown to operators only.")] = None,
) -> UpdateUserResult:
    context = info.context
    key = await context.key()
    problems: dict[str, str] = {}
    until_epoch = 0
    if until is not None:
        until_epoch = int(_utc(until).timestamp())
        if until_epoch <= clock.now():
            problems["until"] = "Must be in the future."
    if reason is not None and len(reason) > REASON_MAX:
        problems["reason"] = f"At most {REASON_MAX} characters."
    if problems:
        return invalid_input(problems)
    found = await _by_id(id)
    if found is None:
        return NotFound(message=NOT_FOUND)
    before = _status(found)
    changes = {"disabled": True, "disabled_until": until_epoch, "disabled_reason": reason or None}
    # As "log out everywhere": the credential version moves on, so sessions opened by a
    # sign-in in flight end too, then every session ends (on every worker at once).
    try:
        await found.write_changes(changes, announce=context.services.users, new_credentials=True)
    except UserGone:
        return NotFound(message=NOT_FOUND)
    ended = await context.services.sessions.revoke_all(str(found.id))
    context.security_event("user_disabled", user=str(found.id), admin_key=key.id)
    await audit(
        context,
        key,
        "user_disabled",
        str(found.id),
        {"before": before, "after": _status(found), "revokedSessions": len(ended)},
    )
    await context.services.webhooks.emit(events.USER_DISABLED, found)
    await context.services.webhooks.sessions_ended(found, ended)
    return UserResult(user=admin_user(found))


async def enable_user(info: Info[AdminContext, None], id: AccountId) -> UpdateUserResult:
    context = info.context
    key = await context.key()
    found = await _by_id(id)
    if found is None:
        return NotFound(message=NOT_FOUND)
    before = _status(found)
    try:
        await found.write_changes(
            {"disabled": False, "disabled_until": 0, "disabled_reason": None}, announce=context.services.users
        )
    except UserGone:
        return NotFound(message=NOT_FOUND)
    context.security_event("user_enabled", user=str(found.id), admin_key=key.id)
    await audit(context, key, "user_enabled", str(found.id), {"before": before, "after": _status(found)})
    await context.services.webhooks.emit(events.USER_ENABLED, found)
    return UserResult(user=admin_user(found))


async def revoke_user_sessions(info: Info[AdminContext, None], id: AccountId) -> RevokeUserSessionsResult:
    context = info.context
    key = await context.key()
    found = await _by_id(id)
    if found is None:
        return NotFound(message=NOT_FOUND)
    try:  # as logout ALL: sessions a sign-in in flight opens end too
        await found.write_changes({}, announce=context.services.users, new_credentials=True, touch=False)
    except UserGone:
        return NotFound(message=NOT_FOUND)
    ended = await context.services.sessions.revoke_all(str(found.id))
    await audit(context, key, "sessions_revoked", str(found.id), {"revokedSessions": len(ended)})
    await context.services.webhooks.sessions_ended(found, ended)
    return SessionsRevoked(revoked_sessions=len(ended))


async def reset_two_factor(info: Info[AdminContext, None], id: AccountId) -> UpdateUserResult:
    context = info.context
    key = await context.key()
    found = await _by_id(id)
    if found is None:
        return NotFound(message=NOT_FOUND)
    was_on = found.two_factor_enabled
    if was_on or found.totp_pending is not None:
        try:
            await found.write_changes(
                {"totp_secret": None, "totp_pending": None, "totp_pending_expires": 0, "recovery_codes": []},
                announce=context.services.users,
            )
        except UserGone:
            return NotFound(message=NOT_FOUND)
    if was_on:
        await notices.send(
            context.services, found, two_factor_notice_message(found.email, "two_factor_disabled"), None
        )
    await audit(
        context,
        key,
        "two_factor_reset",
        str(found.id),
        {"before": {"twoFactorEnabled": was_on}, "after": {"twoFactorEnabled": False}},
    )
    if was_on:
        await context.services.webhooks.emit(events.TWO_FACTOR_DISABLED, found)
    return UserResult(user=admin_user(found))


async def delete_user(info: Info[AdminContext, None], id: AccountId) -> DeleteUserResult:
    context = info.context
    key = await context.key()
    found = await _by_id(id)
    if found is None:
        return NotFound(message=NOT_FOUND)
    user_id = str(found.id)
    # Sessions first, as the person's own deletion: no token outlives the intent.
    await context.services.sessions.revoke_all(user_id)
    await found.remove(announce=context.services.users)
    await audit(context, key, "user_deleted", user_id, {"before": _visible(found)})
    await context.services.webhooks.emit(events.USER_DELETED, found)
    return UserDeleted(id=strawberry.ID(user_id))


# ---------------------------------------------------------------- helpers


async def _by_id(id: str) -> User | None:
    try:
        return await User.get(PydanticObjectId(id))
    except (InvalidId, TypeError, ValueError):
        return None


def _status(user: User) -> dict[str, Any]:
    disabled = user.disabled_now(clock.now())
    return {
        "status": "DISABLED" if disabled else "ACTIVE",
        "disabledUntil": _from_epoch(user.disabled_until).isoformat()
        if disabled and user.disabled_until
        else None,
        "disabledReason": user.disabled_reason if disabled else None,
    }


# What the audit may show of an account: never the password hash, a TOTP secret or a recovery code.
VISIBLE_FIELDS = ("email", "first_name", "last_name", "phone", "roles", "app_metadata")


def _visible(user: User) -> dict[str, Any]:
    return _named({name: getattr(user, name) for name in VISIBLE_FIELDS})


def _named(values: dict[str, Any]) -> dict[str, Any]:
    return {_graphql_name(name): value for name, value in values.items() if name in VISIBLE_FIELDS}


def _graphql_name(attribute: str) -> str:
    head, *rest = attribute.split("_")
    return head + "".join(part.title() for part in rest)


def _from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
