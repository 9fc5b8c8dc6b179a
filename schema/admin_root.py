"""The admin schema (/admin/graphql, contract admin.graphql): its Query and Mutation,
each field guarded by the scope it needs (schema/admin_context.py), under the same
depth, alias and token limits as the public schema; introspection always on (operators
explore it in GraphiQL). Exported as admin.schema.graphql:

    ./run python -m schema.admin_root > admin.schema.graphql
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

import strawberry
from strawberry.scalars import JSON

from schema.admin import (
    JSON_DEFINITION,
    AdminKeyInfo,
    AdminUser,
    AuditEventConnection,
    CreateAdminKeyResult,
    CreateUserResult,
    DeleteUserResult,
    RevokeAdminKeyResult,
    RevokeUserSessionsResult,
    UpdateUserResult,
    UserConnection,
)
from schema.admin_context import needs
from schema.admin_webhooks import (
    CreateWebhookEndpointResult,
    DeleteWebhookEndpointResult,
    UpdateWebhookEndpointResult,
    WebhookEndpoint,
)
from schema.limits import limit_rules
from schema.root import DATE_TIME, AuthqlSchema, Limits
from security.admin_keys import Scope

DEFAULT_LIMITS = Limits()
SCOPE_NOTE = "Needs the scope {} (top-level FORBIDDEN without it, UNAUTHENTICATED without a valid key)."


def _needs(scope: Scope, description: str) -> dict[str, object]:
    return {
        "permission_classes": [needs(scope)],
        "description": f"{description} {SCOPE_NOTE.format(scope.value)}",
    }


def admin_types() -> tuple[type, type]:
    from resolvers.admin import audit as audit_flow  # noqa: PLC0415 - they import this package's types
    from resolvers.admin import keys as key_flow
    from resolvers.admin import users as user_flow
    from resolvers.admin import webhooks as webhook_flow

    @strawberry.type(description="What an operator may read: accounts, the audit log and the admin keys.")
    class Query:
        admin_keys: list[AdminKeyInfo] = strawberry.field(
            resolver=key_flow.admin_keys, **_needs(Scope.KEYS_WRITE, "Every admin key, with its last use.")
        )
        users: UserConnection = strawberry.field(
            resolver=user_flow.users,
            **_needs(Scope.USERS_READ, "first: 1 to 200. Accounts in the order they were created."),
        )
        user: AdminUser | None = strawberry.field(
            resolver=user_flow.user,
            **_needs(Scope.USERS_READ, "By id or by email; null when there is none."),
        )
        audit_events: AuditEventConnection = strawberry.field(
            resolver=audit_flow.audit_events, **_needs(Scope.AUDIT_READ, "Newest first; first: 1 to 200.")
        )
        webhook_endpoints: list[WebhookEndpoint] = strawberry.field(
            resolver=webhook_flow.webhook_endpoints,
            **_needs(Scope.WEBHOOKS_READ, "Every webhook endpoint, oldest first (never its secret)."),
        )

    @strawberry.type(description="What an operator may change; every mutation writes an audit event.")
    class Mutation:
        create_user: CreateUserResult = strawberry.mutation(
            resolver=user_flow.create_user,
            **_needs(
                Scope.USERS_WRITE,
                "Makes an account; with invite, mails it a sign-in code. The address counts as "
                "unproven until its owner signs in.",
            ),
        )
        update_user: UpdateUserResult = strawberry.mutation(
            resolver=user_flow.update_user,
            **_needs(
                Scope.USERS_WRITE,
                "An email changed here is taken as verified; the old and new addresses get a notice. "
                "A field the person changed meanwhile is not overwritten (InvalidInput names it).",
            ),
        )
        disable_user: UpdateUserResult = strawberry.mutation(
            resolver=user_flow.disable_user,
            **_needs(Scope.USERS_WRITE, "until omitted: until enableUser. Ends every session at once."),
        )
        enable_user: UpdateUserResult = strawberry.mutation(
            resolver=user_flow.enable_user, **_needs(Scope.USERS_WRITE, "Lets the account sign in again.")
        )
        revoke_user_sessions: RevokeUserSessionsResult = strawberry.mutation(
            resolver=user_flow.revoke_user_sessions,
            **_needs(Scope.SESSIONS_WRITE, "Ends every session of the account at once, as logout ALL."),
        )
        reset_two_factor: UpdateUserResult = strawberry.mutation(
            resolver=user_flow.reset_two_factor,
            **_needs(
                Scope.USERS_WRITE,
                "Turns two-factor off and removes its recovery codes, for a person who lost their "
                "authenticator.",
            ),
        )
        delete_user: DeleteUserResult = strawberry.mutation(
            resolver=user_flow.delete_user,
            **_needs(Scope.USERS_WRITE, "Deletes the account and its sessions."),
        )
        create_admin_key: CreateAdminKeyResult = strawberry.mutation(
            resolver=key_flow.create_admin_key,
            **_needs(
                Scope.KEYS_WRITE,
                "A new key with these scopes (only scopes the calling key holds); its secret is shown once.",
            ),
        )
        revoke_admin_key: RevokeAdminKeyResult = strawberry.mutation(
            resolver=key_flow.revoke_admin_key,
            **_needs(Scope.KEYS_WRITE, "Takes effect at once, on every worker."),
        )
        create_webhook_endpoint: CreateWebhookEndpointResult = strawberry.mutation(
            resolver=webhook_flow.create_webhook_endpoint,
            **_needs(Scope.WEBHOOKS_WRITE, "A new endpoint; its signing secret (whsec_...) is shown once."),
        )
        update_webhook_endpoint: UpdateWebhookEndpointResult = strawberry.mutation(
            resolver=webhook_flow.update_webhook_endpoint,
            **_needs(
                Scope.WEBHOOKS_WRITE,
                "Also the way to rotate the secret (rotateSecret: true) and to re-enable a disabled "
                "endpoint.",
            ),
        )
        delete_webhook_endpoint: DeleteWebhookEndpointResult = strawberry.mutation(
            resolver=webhook_flow.delete_webhook_endpoint,
            **_needs(Scope.WEBHOOKS_WRITE, "Deletes the endpoint; its queued deliveries are abandoned."),
        )

    return Query, Mutation


@cache
def build_admin_schema(limits: Limits = DEFAULT_LIMITS) -> AuthqlSchema:
    """The admin schema under `limits` (introspection is always on), built once per process."""
    query, mutation = admin_types()
    return AuthqlSchema(
        rules=limit_rules(limits.max_depth, limits.max_aliases),
        max_tokens=limits.max_tokens,
        query=query,
        mutation=mutation,
        scalar_overrides={datetime: DATE_TIME, JSON: JSON_DEFINITION},
    )


if __name__ == "__main__":
    print(build_admin_schema().as_str())
