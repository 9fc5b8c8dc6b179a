"""The admin API's webhook endpoints (contract admin.graphql): their types and result
unions. The fields are in schema/admin_root.py; the machinery is webhooks/."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from schema.problems import InvalidInput, NotFound
from webhooks import events

WebhookEvent = strawberry.enum(
    Enum(  # type: ignore[misc]
        "WebhookEvent",
        {
            events.enum_name(event): strawberry.enum_value(event, description=description)
            for event, description in events.DESCRIPTIONS.items()
        },
    ),
    name="WebhookEvent",
    description=(
        "What a webhook endpoint is told of; a body's `type` is the value lower-cased, its last _ as a dot."
    ),
)


@strawberry.type(description="Where authql posts the events it takes, signed per Standard Webhooks.")
class WebhookEndpoint:
    id: strawberry.ID = strawberry.field(description="The endpoint's id (the metrics' `endpoint` label).")
    url: str = strawberry.field(
        description="Where deliveries go: https:// (http:// only with WEBHOOK_ALLOW_PRIVATE)."
    )
    events: list[WebhookEvent] = strawberry.field(description="The events it takes.")  # type: ignore[valid-type]
    description: str | None = strawberry.field(description="The operator's note.")
    enabled: bool = strawberry.field(
        description="False: nothing is sent to it (queued deliveries are abandoned)."
    )
    created_at: datetime = strawberry.field(description="When it was made.")
    failures_in_a_row: int = strawberry.field(
        description="Deliveries that failed in a row; the endpoint is disabled past the configured limit."
    )
    last_delivery_at: datetime | None = strawberry.field(description="Its last delivery that got a 2xx.")


@strawberry.type(description="The endpoint, with its signing secret (a new one only when one was made).")
class WebhookEndpointCreated:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint.")
    secret: str = strawberry.field(
        description="whsec_...: the signing secret, shown once. Empty after an update that did not rotate it."
    )


CreateWebhookEndpointResult = Annotated[
    WebhookEndpointCreated | InvalidInput,
    strawberry.union(
        "CreateWebhookEndpointResult", description="The new endpoint and its secret, or why not."
    ),
]
UpdateWebhookEndpointResult = Annotated[
    WebhookEndpointCreated | NotFound | InvalidInput,
    strawberry.union("UpdateWebhookEndpointResult", description="The endpoint as changed, or why not."),
]


@strawberry.type(description="The endpoint is gone; its queued deliveries are abandoned.")
class WebhookEndpointDeleted:
    id: strawberry.ID = strawberry.field(description="The deleted endpoint's id.")


DeleteWebhookEndpointResult = Annotated[
    WebhookEndpointDeleted | NotFound,
    strawberry.union("DeleteWebhookEndpointResult", description="Deleted, or no such endpoint."),
]
