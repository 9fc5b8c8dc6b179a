"""Webhook endpoints through the admin API: made, listed, rotated, disabled and deleted
with scoped keys, their secret shown once and never audited; the admin API's own changes
to accounts send their events."""

from __future__ import annotations

import json
from typing import Any

from admin import (
    ADMIN_KEY,
    AUDIT,
    CREATE_KEY,
    CREATE_USER,
    DISABLE_USER,
    ENABLE_USER,
    admin_call,
    admin_data,
    codes,
)
from conftest import Mailbox, serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import new_email, register
from receiver import Receiver, receiving
from standardwebhooks.webhooks import Webhook

from webhooks.signing import new_secret

PROBLEM = "... on Problem { __typename message }"
INVALID = "... on InvalidInput { fields { field message } }"
ENDPOINT = "id url events description enabled createdAt failuresInARow lastDeliveryAt"
LIST = f"query {{ webhookEndpoints {{ {ENDPOINT} }} }}"
CREATE = f"""mutation($url: String!, $events: [WebhookEvent!]!, $description: String) {{
  createWebhookEndpoint(url: $url, events: $events, description: $description) {{ __typename
  ... on WebhookEndpointCreated {{ secret endpoint {{ {ENDPOINT} }} }} {PROBLEM} {INVALID} }} }}"""
UPDATE = f"""mutation($id: ID!, $url: String, $events: [WebhookEvent!], $enabled: Boolean,
  $rotate: Boolean) {{
  updateWebhookEndpoint(id: $id, url: $url, events: $events, enabled: $enabled, rotateSecret: $rotate) {{
  __typename ... on WebhookEndpointCreated {{ secret endpoint {{ {ENDPOINT} }} }} {PROBLEM} {INVALID} }} }}"""
DELETE = f"""mutation($id: ID!) {{ deleteWebhookEndpoint(id: $id) {{ __typename
  ... on WebhookEndpointDeleted {{ id }} {PROBLEM} }} }}"""


def admin_settings(backend_urls: dict[str, str], mailbox: Mailbox, **overrides: Any):  # noqa: ANN201
    return settings_with(
        backend_urls,
        mailbox,
        admin_api_key=ADMIN_KEY,
        webhook_allow_private=True,
        outbox_poll_seconds=0.05,
        **overrides,
    )


async def test_endpoints_are_managed_with_scoped_keys(backend_urls: dict[str, str], mailbox: Mailbox) -> None:
    receiver = Receiver()
    async with receiving(receiver) as port, serve(admin_settings(backend_urls, mailbox)) as client:
        url = f"http://127.0.0.1:{port}/hook"
        reader = await admin_data(client, CREATE_KEY, {"name": "reader", "scopes": ["WEBHOOKS_READ"]})
        writer = await admin_data(client, CREATE_KEY, {"name": "writer", "scopes": ["WEBHOOKS_WRITE"]})
        refused = await admin_call(client, CREATE, {"url": url, "events": ["USER_CREATED"]}, reader["secret"])
        assert codes(refused) == ["FORBIDDEN"] and "webhooks:write" in refused["errors"][0]["message"]
        assert codes(await admin_call(client, LIST, key=writer["secret"])) == ["FORBIDDEN"]

        bad = await admin_data(client, CREATE, {"url": "ftp://x.example/", "events": []}, writer["secret"])
        assert bad["__typename"] == "InvalidInput"
        assert {item["field"] for item in bad["fields"]} == {"url", "events"}

        made = await admin_data(
            client,
            CREATE,
            {"url": url, "events": ["USER_CREATED", "SESSION_CREATED"], "description": "crm"},
            writer["secret"],
        )
        assert made["__typename"] == "WebhookEndpointCreated" and made["secret"].startswith("whsec_")
        endpoint = made["endpoint"]
        assert endpoint["events"] == ["SESSION_CREATED", "USER_CREATED"] and endpoint["enabled"]
        listed = await admin_data(client, LIST, key=reader["secret"])
        assert endpoint["id"] in [item["id"] for item in listed]
        assert made["secret"] not in json.dumps(listed)

        user_id = (await register(client, mailbox))["user"]["id"]
        arrivals = await receiver.wait_for(
            2, where=lambda arrival: arrival.json()["data"]["user"]["id"] == user_id
        )
        for arrival in arrivals:
            Webhook(made["secret"]).verify(arrival.body, arrival.headers)

        rotated = await admin_data(client, UPDATE, {"id": endpoint["id"], "rotate": True}, writer["secret"])
        assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]
        unrotated = await admin_data(
            client, UPDATE, {"id": endpoint["id"], "events": ["USER_CREATED"]}, writer["secret"]
        )
        assert unrotated["secret"] == "" and unrotated["endpoint"]["events"] == ["USER_CREATED"]
        second = (await register(client, mailbox))["user"]["id"]
        (arrival,) = await receiver.wait_for(
            1, where=lambda arrival: arrival.json()["data"]["user"]["id"] == second
        )
        Webhook(made["secret"]).verify(arrival.body, arrival.headers)
        Webhook(rotated["secret"]).verify(arrival.body, arrival.headers)

        off = await admin_data(client, UPDATE, {"id": endpoint["id"], "enabled": False}, writer["secret"])
        assert off["endpoint"]["enabled"] is False
        deleted = await admin_data(client, DELETE, {"id": endpoint["id"]}, writer["secret"])
        assert deleted == {"__typename": "WebhookEndpointDeleted", "id": endpoint["id"]}
        again = await admin_data(client, DELETE, {"id": endpoint["id"]}, writer["secret"])
        assert again["__typename"] == "NotFound"
        missing = await admin_data(client, UPDATE, {"id": "nope", "enabled": True}, writer["secret"])
        assert missing["__typename"] == "NotFound"

        audit = await admin_data(client, AUDIT, {"first": 50})
        actions = [edge["node"]["action"] for edge in audit["edges"]]
        for action in ("webhook_endpoint_created", "webhook_endpoint_updated", "webhook_endpoint_deleted"):
            assert action in actions
        text = json.dumps(audit)
        assert made["secret"] not in text and rotated["secret"] not in text


async def test_disabling_and_enabling_an_account_send_their_events(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    receiver = Receiver()
    async with receiving(receiver) as port, serve(admin_settings(backend_urls, mailbox)) as client:
        made = await admin_data(
            client,
            CREATE,
            {"url": f"http://127.0.0.1:{port}/hook", "events": ["USER_DISABLED", "USER_ENABLED"]},
        )
        user_id = (await register(client, mailbox))["user"]["id"]
        assert (await admin_data(client, DISABLE_USER, {"id": user_id}))["__typename"] == "UserResult"
        assert (await admin_data(client, ENABLE_USER, {"id": user_id}))["__typename"] == "UserResult"
        arrivals = await receiver.wait_for(
            2, where=lambda arrival: arrival.json()["data"]["user"]["id"] == user_id
        )
        kinds = sorted(Webhook(made["secret"]).verify(a.body, a.headers)["type"] for a in arrivals)
        assert kinds == ["user.disabled", "user.enabled"]


async def test_an_invite_asks_the_sign_up_policy(backend_urls: dict[str, str], mailbox: Mailbox) -> None:
    secret = new_secret()

    def policy(arrival: Any) -> dict[str, Any]:
        body = Webhook(secret).verify(arrival.body, arrival.headers)
        assert body["method"] == "invite"
        return {"allow": not body["email"].startswith("blocked-"), "message": "Not this one."}

    receiver = Receiver(status=200, answer=policy)
    async with receiving(receiver) as port:
        settings = admin_settings(
            backend_urls,
            mailbox,
            hook_before_sign_up_url=f"http://127.0.0.1:{port}/before-sign-up",
            hook_secret=secret,
        )
        async with serve(settings) as client:
            person = {"firstName": "Ada", "lastName": "Lovelace", "invite": True}
            refused = await admin_data(
                client, CREATE_USER, {"input": {"email": "blocked-a@example.com", **person}}
            )
            assert refused["__typename"] == "InvalidInput"
            assert refused["fields"] == [{"field": "email", "message": "Not this one."}]
            made = await admin_data(client, CREATE_USER, {"input": {"email": new_email(), **person}})
            assert made["__typename"] == "UserResult", made
