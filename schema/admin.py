"""The admin API's types (the contract is admin.graphql): accounts as an operator sees
them, their pages, the audit log, admin keys, and the result unions of the admin
mutations. The schema itself (Query, Mutation, limits) is schema/admin_root.py."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from schema.problems import AccountExists, InvalidInput, NotFound
from security.admin_keys import Scope


def _json(value: Any) -> Any:
    return value


# Strawberry's JSON scalar, with the contract's description (schema/admin_root.py overrides it).
JSON_DEFINITION = strawberry.scalar(
    name="JSON",
    description="Any JSON value; app metadata is a JSON object of at most 4 KiB.",
    specified_by_url="https://ecma-international.org/publications-and-standards/standards/ecma-404/",
    serialize=_json,
    parse_value=_json,
)

AdminScope = strawberry.enum(
    Enum(  # type: ignore[misc]
        "AdminScope",
        {
            "USERS_READ": strawberry.enum_value(
                Scope.USERS_READ, description="users and user: read accounts."
            ),
            "USERS_WRITE": strawberry.enum_value(
                Scope.USERS_WRITE,
                description="createUser, updateUser, disableUser, enableUser, resetTwoFactor, deleteUser.",
            ),
            "SESSIONS_WRITE": strawberry.enum_value(
                Scope.SESSIONS_WRITE, description="revokeUserSessions: end an account's sessions."
            ),
            "AUDIT_READ": strawberry.enum_value(
                Scope.AUDIT_READ, description="auditEvents: read the audit log."
            ),
            "WEBHOOKS_READ": strawberry.enum_value(
                Scope.WEBHOOKS_READ, description="Read webhook endpoints."
            ),
            "WEBHOOKS_WRITE": strawberry.enum_value(
                Scope.WEBHOOKS_WRITE, description="Change webhook endpoints."
            ),
            "KEYS_WRITE": strawberry.enum_value(
                Scope.KEYS_WRITE, description="adminKeys, createAdminKey, revokeAdminKey: manage admin keys."
            ),
        },
    ),
    name="AdminScope",
    description="What an admin key may do; each field's description names the scope it needs.",
)


@strawberry.enum(description="Whether the account may sign in.")
class AccountStatus(Enum):
    ACTIVE = strawberry.enum_value("active", description="Signs in as usual.")
    DISABLED = strawberry.enum_value(
        "disabled",
        description=(
            "Sign-in refused (after the password or code proves the person, so the answer reveals "
            "nothing to others); every session ended."
        ),
    )


@strawberry.enum(description="A way an account can sign in.")
class SignInMethod(Enum):
    PASSWORD = strawberry.enum_value("password", description="Its password (login).")
    EMAIL_CODE = strawberry.enum_value(
        "email_code", description="A code mailed to its address (startCodeLogin); on for every account."
    )
    SOCIAL = strawberry.enum_value("social", description="A linked social identity.")
    PASSKEY = strawberry.enum_value("passkey", description="A registered passkey.")
    TOTP = strawberry.enum_value(
        "totp", description="Two-factor is on: an authenticator's code after the first factor."
    )


@strawberry.type(description="One of an account's sessions (a signed-in device).")
class AdminSession:
    id: strawberry.ID = strawberry.field(description="The session's id (the person's Session.id).")
    created_at: datetime = strawberry.field(description="When the sign-in opened it.")
    last_used_at: datetime = strawberry.field(description="Its last refresh.")
    expires_at: datetime = strawberry.field(description="When it ends unless refreshed.")
    user_agent: str | None = strawberry.field(description="The User-Agent of the sign-in.")
    ip_address: str | None = strawberry.field(description="The client address of the sign-in.")


@strawberry.type(description="An account, as the operator sees it.")
class AdminUser:
    id: strawberry.ID = strawberry.field(description="The account's id (the person's User.id).")
    email: str = strawberry.field(description="The address, lower-cased.")
    first_name: str = strawberry.field(description="First name.")
    last_name: str = strawberry.field(description="Last name.")
    phone: str | None = strawberry.field(description="E.164, or null.")
    status: AccountStatus = strawberry.field(description="ACTIVE or DISABLED, now.")
    disabled_until: datetime | None = strawberry.field(
        description="Set when disabled for a time; the account is active again after it."
    )
    disabled_reason: str | None = strawberry.field(description="The operator's reason, while disabled.")
    roles: list[str] = strawberry.field(description="The claim `roles` of its access tokens.")
    app_metadata: JSON = strawberry.field(description="The claim `app_metadata` of its access tokens.")
    email_verified: bool = strawberry.field(
        description="False for an address an operator gave (createUser) until its owner signs in."
    )
    created_at: datetime = strawberry.field(description="When the account was made.")
    last_sign_in_at: datetime | None = strawberry.field(description="Its last sign-in, or null if none.")
    document: strawberry.Private[object]  # the account's document, for `sessions`

    @strawberry.field(description="The account's live sessions, newest first.")
    async def sessions(self, info: Info) -> list[AdminSession]:
        from resolvers.admin.users import sessions_of  # noqa: PLC0415 - resolvers import this module

        return await sessions_of(info, self.document)

    @strawberry.field(description="What this account can sign in with today.")
    async def sign_in_methods(self) -> list[SignInMethod]:
        from resolvers.admin.users import sign_in_methods_of  # noqa: PLC0415 - resolvers import this module

        return await sign_in_methods_of(self.document)


@strawberry.type(description="Where a page ends.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether another page follows.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page. Opaque and stable under inserts."
    )


@strawberry.type(description="One account of a page.")
class UserEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this account.")
    node: AdminUser = strawberry.field(description="The account.")


@strawberry.type(description="A page of accounts, in the order they were created.")
class UserConnection:
    edges: list[UserEdge] = strawberry.field(description="The page's accounts.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")


@strawberry.input(description="Every filter given must hold; each is served by an index.")
class UserFilter:
    email_prefix: str | None = strawberry.field(
        default=None, description="Matches addresses that start with it (case does not matter)."
    )
    status: AccountStatus | None = strawberry.field(
        default=None, description="Only accounts in this status now."
    )
    role: str | None = strawberry.field(default=None, description="Only accounts holding this role.")
    created_after: datetime | None = strawberry.field(default=None, description="Made after this time.")
    created_before: datetime | None = strawberry.field(default=None, description="Made before this time.")


@strawberry.type(description="One change or sign-in event, as the audit log keeps it.")
class AuditEvent:
    id: strawberry.ID = strawberry.field(description="The event's id.")
    at: datetime = strawberry.field(description="When it happened.")
    action: str = strawberry.field(description="login_succeeded, user_disabled, roles_changed, ...")
    admin_key_id: strawberry.ID | None = strawberry.field(
        description="The admin key's id, or null when the person did it."
    )
    user_id: strawberry.ID | None = strawberry.field(description="The account it concerns, if any.")
    ip_address: str | None = strawberry.field(description="The address the change came from.")
    details: JSON = strawberry.field(description="Fields before and after, for changes; never a secret.")


@strawberry.type(description="One event of a page.")
class AuditEventEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this event.")
    node: AuditEvent = strawberry.field(description="The event.")


@strawberry.type(description="A page of audit events, newest first.")
class AuditEventConnection:
    edges: list[AuditEventEdge] = strawberry.field(description="The page's events.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")


@strawberry.input(description="A new account.")
class CreateUserInput:
    email: str = strawberry.field(description="Its address; unproven until its owner signs in.")
    first_name: str = strawberry.field(description="1-100 characters with a letter.")
    last_name: str = strawberry.field(description="1-100 characters with a letter.")
    phone: str | None = strawberry.field(default=None, description="E.164, e.g. +14155550123.")
    roles: list[str] | None = strawberry.field(
        default_factory=list,
        description="At most 32, each 1-64 characters: letters, digits and _ . : / -.",
    )
    app_metadata: JSON | None = strawberry.field(
        default=None, description="A JSON object of at most 4 KiB; null: {}."
    )
    invite: bool = strawberry.field(
        default=True,
        description=(
            "When true, mails the person a sign-in code to finish setting up; with no password either, "
            "the account signs in by code until one is set."
        ),
    )
    password: str | None = strawberry.field(
        default=None, description="The password policy applies; null: none (sign-in by code, or a reset)."
    )


@strawberry.input(description="Fields left null are unchanged.")
class UpdateUserInput:
    email: str | None = strawberry.field(
        default=None, description="Taken as verified; the old and new addresses get a notice."
    )
    first_name: str | None = strawberry.field(default=None, description="1-100 characters with a letter.")
    last_name: str | None = strawberry.field(default=None, description="1-100 characters with a letter.")
    phone: str | None = strawberry.field(default=None, description='"" clears the phone.')
    roles: list[str] | None = strawberry.field(
        default=None, description="Replaces every role (as in CreateUserInput.roles)."
    )
    app_metadata: JSON | None = strawberry.field(default=None, description="Replaces the whole object.")


@strawberry.type(description="The account as it now is.")
class UserResult:
    user: AdminUser = strawberry.field(description="The account.")


CreateUserResult = Annotated[
    UserResult | AccountExists | InvalidInput,
    strawberry.union("CreateUserResult", description="The new account, or why not."),
]
UpdateUserResult = Annotated[
    UserResult | NotFound | AccountExists | InvalidInput,
    strawberry.union(
        "UpdateUserResult",
        description="The changed account, or why not (InvalidInput also names a field changed meanwhile).",
    ),
]


@strawberry.type(description="Every session of the account ended.")
class SessionsRevoked:
    revoked_sessions: int = strawberry.field(description="How many sessions ended.")


RevokeUserSessionsResult = Annotated[
    SessionsRevoked | NotFound,
    strawberry.union("RevokeUserSessionsResult", description="How many sessions ended, or no such account."),
]


@strawberry.type(description="The account and its sessions are gone.")
class UserDeleted:
    id: strawberry.ID = strawberry.field(description="The deleted account's id.")


DeleteUserResult = Annotated[
    UserDeleted | NotFound, strawberry.union("DeleteUserResult", description="Deleted, or no such account.")
]


@strawberry.type(name="AdminKey", description="An admin API key; its secret is never shown again.")
class AdminKeyInfo:
    id: strawberry.ID = strawberry.field(description='The key\'s id; "environment" for ADMIN_API_KEY.')
    name: str = strawberry.field(description="What the operator called it.")
    scopes: list[AdminScope] = strawberry.field(description="What it may do.")  # type: ignore[valid-type]
    created_at: datetime = strawberry.field(description="When it was made (for ADMIN_API_KEY: the start-up).")
    last_used_at: datetime | None = strawberry.field(
        description="Its last request, to the minute; null if never (and always for ADMIN_API_KEY)."
    )
    from_environment: bool = strawberry.field(
        description="The environment's ADMIN_API_KEY: cannot be revoked here."
    )


@strawberry.type(description="A new admin key.")
class AdminKeyCreated:
    key: AdminKeyInfo = strawberry.field(description="The key.")
    secret: str = strawberry.field(description="The key itself, shown once.")


CreateAdminKeyResult = Annotated[
    AdminKeyCreated | InvalidInput,
    strawberry.union("CreateAdminKeyResult", description="The new key, or why not."),
]


@strawberry.type(description="The key is refused from now on, by every worker.")
class AdminKeyRevoked:
    id: strawberry.ID = strawberry.field(description="The revoked key's id.")


RevokeAdminKeyResult = Annotated[
    AdminKeyRevoked | NotFound,
    strawberry.union("RevokeAdminKeyResult", description="Revoked, or no such key (or ADMIN_API_KEY's)."),
]
