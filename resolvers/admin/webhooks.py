"""Webhook endpoints through the admin API: list, make (the secret shown once), change
(rotate the secret, re-enable), delete; every change audited, never with its secret."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from documents.webhook import WebhookEndpointRecord
from resolvers.admin.audit import audit
from schema.admin_context import AdminContext
from schema.admin_webhooks import (
    CreateWebhookEndpointResult,
    DeleteWebhookEndpointResult,
    UpdateWebhookEndpointResult,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointDeleted,
    WebhookEvent,
)
from schema.problems import NotFound, invalid_input

NO_SUCH_ENDPOINT = "No webhook endpoint with this id."


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def public_endpoint(record: WebhookEndpointRecord) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=strawberry.ID(str(record.id)),
        url=record.url,
        events=[WebhookEvent(event) for event in record.events],
        description=record.description,
        enabled=record.enabled,
        created_at=_time(record.created_ms) or datetime.now(UTC),
        failures_in_a_row=record.failures_in_a_row,
        last_delivery_at=_time(record.last_delivery_ms),
    )


def _shown(record: WebhookEndpointRecord) -> dict[str, Any]:
    """What the audit log keeps of an endpoint: never its secret."""
    return {"id": str(record.id), "url": record.url, "events": record.events, "enabled": record.enabled}


async def webhook_endpoints(info: Info[AdminContext, None]) -> list[WebhookEndpoint]:
    return [public_endpoint(record) for record in await info.context.services.webhooks.endpoints.all()]


async def create_webhook_endpoint(
    info: Info[AdminContext, None],
    url: Annotated[str, strawberry.argument(description="https:// URL deliveries are posted to.")],
    events: Annotated[
        list[WebhookEvent],  # type: ignore[valid-type]
        strawberry.argument(description="The events it takes; at least one."),
    ],
    description: Annotated[
        str | None, strawberry.argument(description="A note, at most 500 characters.")
    ] = None,
) -> CreateWebhookEndpointResult:
    context = info.context
    caller = await context.key()
    store = context.services.webhooks.endpoints
    chosen = [event.value for event in events]
    problems = store.problems(url=url, events=chosen, description=description)
    if problems:
        return invalid_input(problems)
    saved = await store.create(url, chosen, description)
    await audit(context, caller, "webhook_endpoint_created", None, {"after": _shown(saved.endpoint)})
    assert saved.secret is not None
    return WebhookEndpointCreated(endpoint=public_endpoint(saved.endpoint), secret=saved.secret)


async def update_webhook_endpoint(
    info: Info[AdminContext, None],
    id: Annotated[strawberry.ID, strawberry.argument(description="WebhookEndpoint.id.")],
    url: Annotated[str | None, strawberry.argument(description="A new URL.")] = None,
    events: Annotated[
        list[WebhookEvent] | None,  # type: ignore[valid-type]
        strawberry.argument(description="The events it takes from now on."),
    ] = None,
    enabled: Annotated[
        bool | None, strawberry.argument(description="true re-enables it (its failures in a row start at 0).")
    ] = None,
    rotate_secret: Annotated[
        bool | None,
        strawberry.argument(description="A new secret (answered once); the old one also signs for 24 hours."),
    ] = False,
) -> UpdateWebhookEndpointResult:
    context = info.context
    caller = await context.key()
    store = context.services.webhooks.endpoints
    chosen = None if events is None else [event.value for event in events]
    problems = store.problems(url=url, events=chosen)
    if problems:
        return invalid_input(problems)
    before = await store.get(str(id))
    saved = (
        None
        if before is None
        else await store.update(
            str(id), url=url, events=chosen, enabled=enabled, rotate_secret=bool(rotate_secret)
        )
    )
    if before is None or saved is None:
        return NotFound(message=NO_SUCH_ENDPOINT)
    after = {**_shown(saved.endpoint), "secret_rotated": saved.secret is not None}
    await audit(context, caller, "webhook_endpoint_updated", None, {"before": _shown(before), "after": after})
    return WebhookEndpointCreated(endpoint=public_endpoint(saved.endpoint), secret=saved.secret or "")


async def delete_webhook_endpoint(
    info: Info[AdminContext, None],
    id: Annotated[strawberry.ID, strawberry.argument(description="WebhookEndpoint.id.")],
) -> DeleteWebhookEndpointResult:
    context = info.context
    caller = await context.key()
    store = context.services.webhooks.endpoints
    before = await store.get(str(id))
    if before is None or not await store.delete(str(id)):
        return NotFound(message=NO_SUCH_ENDPOINT)
    await audit(context, caller, "webhook_endpoint_deleted", None, {"before": _shown(before)})
    return WebhookEndpointDeleted(id=strawberry.ID(str(before.id)))
