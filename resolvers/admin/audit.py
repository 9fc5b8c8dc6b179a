"""The audit log as the admin API writes and reads it: one event per admin mutation,
and the `auditEvents` pages, newest first."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from schema.admin import AuditEvent, AuditEventConnection, AuditEventEdge, PageInfo
from schema.admin_context import AdminContext
from schema.error_codes import ErrorCode
from security.admin_keys import AdminKey
from security.audit import BadCursor

PAGE_MAX = 200


async def audit(
    context: AdminContext, key: AdminKey, action: str, user_id: str | None, details: dict[str, Any]
) -> None:
    """Record one admin change: `details` name fields with values that are never secrets."""
    await context.services.audit.record(
        action, admin_key_id=key.id, user_id=user_id, ip_address=context.client_ip, details=details
    )


async def audit_events(
    info: Info[AdminContext, None],
    user_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="Only events about this account.")
    ] = None,
    action: Annotated[str | None, strawberry.argument(description="Only events of this action.")] = None,
    first: Annotated[int, strawberry.argument(description="1 to 200.")] = 50,
    after: Annotated[
        str | None, strawberry.argument(description="PageInfo.endCursor of the page before.")
    ] = None,
) -> AuditEventConnection:
    if not 1 <= first <= PAGE_MAX:
        raise GraphQLError(f"first must be 1 to {PAGE_MAX}.", extensions={"code": ErrorCode.BAD_USER_INPUT})
    try:
        page, more = await info.context.services.audit.page(
            user_id=user_id, action=action, first=first, after=after
        )
    except BadCursor:
        raise GraphQLError(
            "after is not a cursor this server gave out.", extensions={"code": ErrorCode.BAD_USER_INPUT}
        ) from None
    edges = [
        AuditEventEdge(
            cursor=cursor,
            node=AuditEvent(
                id=strawberry.ID(event.id),
                at=event.at,
                action=event.action,
                admin_key_id=strawberry.ID(event.admin_key_id) if event.admin_key_id else None,
                user_id=strawberry.ID(event.user_id) if event.user_id else None,
                ip_address=event.ip_address,
                details=event.details,
            ),
        )
        for cursor, event in page
    ]
    return AuditEventConnection(
        edges=edges, page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None)
    )
