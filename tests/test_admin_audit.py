"""The admin API's audit log over HTTP: every admin mutation leaves one event (which key,
what, on whom, the fields before and after, from which address, when), paged newest first
and filtered by account and action; no secret ever reaches it (scanned for every password,
key, code, token and hash the test saw); its TTL index keeps AUDIT_RETENTION_DAYS."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pymongo
import pytest
from admin import (
    ADMIN_KEY,
    AUDIT,
    CREATE_KEY,
    CREATE_USER,
    DELETE_USER,
    DISABLE_USER,
    ENABLE_USER,
    RESET_TWO_FACTOR,
    REVOKE_KEY,
    REVOKE_SESSIONS,
    UPDATE_USER,
    admin_call,
    admin_data,
    codes,
)
from conftest import TOTP_NOW, Mailbox, serve, text_of
from conftest import test_settings as settings_with
from flows import LOGIN, PASSWORD, data, new_email, register
from test_two_factor import CONFIRM, ENROLL

from settings import Settings

INITIAL_PASSWORD = "an operator-chosen passphrase"
CODE_LINE = re.compile(r"^\s*(\d{6,10})\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def admin_settings(backend_urls: dict[str, str], mailbox: Mailbox) -> Settings:
    return settings_with(backend_urls, mailbox, admin_api_key=ADMIN_KEY, audit_retention_days=30)


@pytest.fixture(scope="module")
async def client(admin_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(admin_settings) as client:
        yield client


async def all_events(client: httpx.AsyncClient, first: int = 2, **filters: Any) -> list[dict[str, Any]]:
    """Every event the filters match, newest first, walked `first` at a time."""
    events: list[dict[str, Any]] = []
    after = None
    while True:
        page = await admin_data(client, AUDIT, {"first": first, "after": after, **filters})
        events.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return events
        after = page["pageInfo"]["endCursor"]


async def stored_audit(settings: Settings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The raw audit records and the audit collection's indexes."""
    mongo: pymongo.AsyncMongoClient[Any] = pymongo.AsyncMongoClient(settings.mongo_url)
    try:
        collection = mongo[settings.mongo_db]["audit_events"]
        return await collection.find({}).to_list(None), await (await collection.list_indexes()).to_list(None)
    finally:
        await mongo.close()


async def stored_user(settings: Settings, email: str) -> dict[str, Any]:
    mongo: pymongo.AsyncMongoClient[Any] = pymongo.AsyncMongoClient(settings.mongo_url)
    try:
        found = await mongo[settings.mongo_db]["users"].find_one({"email": email})
    finally:
        await mongo.close()
    assert found is not None
    return found


async def test_every_admin_mutation_is_audited_newest_first_and_no_secret_reaches_the_log(
    client, mailbox, admin_settings
):
    secrets_seen: list[str] = [ADMIN_KEY, PASSWORD, INITIAL_PASSWORD]
    created_key = await admin_data(client, CREATE_KEY, {"name": "audit script", "scopes": ["USERS_WRITE"]})
    key_id, key_secret = created_key["key"]["id"], created_key["secret"]
    secrets_seen.append(key_secret)

    email = new_email()
    made = await admin_data(
        client,
        CREATE_USER,
        {"input": {"email": email, "firstName": "Ada", "lastName": "Byron", "password": INITIAL_PASSWORD}},
        key=key_secret,
    )
    user_id = made["user"]["id"]
    invite = text_of(await mailbox.wait_for(email))
    secrets_seen.extend(CODE_LINE.findall(invite))
    person = await register(client, mailbox)
    person_id = person["user"]["id"]
    secrets_seen.extend([person["accessToken"], person["refreshToken"]])
    enrolled = await data(client, ENROLL, {"password": PASSWORD}, token=person["accessToken"])
    secrets_seen.append(enrolled["secret"])
    import pyotp

    confirmed = await data(
        client,
        CONFIRM,
        {"code": pyotp.TOTP(enrolled["secret"]).at(TOTP_NOW - 30)},
        token=person["accessToken"],
    )
    secrets_seen.extend(confirmed["recoveryCodes"])
    secrets_seen.append((await stored_user(admin_settings, person["user"]["email"]))["password_hash"])
    secrets_seen.append((await stored_user(admin_settings, email))["password_hash"])

    await admin_data(
        client,
        UPDATE_USER,
        {
            "id": person_id,
            "input": {"roles": ["support"], "firstName": "Augusta", "appMetadata": {"tier": 2}},
        },
    )
    await admin_data(client, DISABLE_USER, {"id": person_id, "reason": "review"})
    await admin_data(client, ENABLE_USER, {"id": person_id})
    await admin_data(client, REVOKE_SESSIONS, {"id": person_id})
    await admin_data(client, RESET_TWO_FACTOR, {"id": person_id})
    await admin_data(client, DELETE_USER, {"id": user_id})
    await admin_data(client, REVOKE_KEY, {"id": key_id})

    about_person = [event for event in await all_events(client, userId=person_id) if event["adminKeyId"]]
    assert [event["action"] for event in about_person] == [
        "two_factor_reset",
        "sessions_revoked",
        "user_enabled",
        "user_disabled",
        "user_updated",
    ]
    times = [datetime.fromisoformat(event["at"]) for event in about_person]
    assert times == sorted(times, reverse=True)
    assert all(event["adminKeyId"] == "environment" for event in about_person)
    assert all(event["ipAddress"] == "203.0.113.7" for event in about_person)
    updated = about_person[-1]["details"]
    assert updated["before"] == {"roles": [], "firstName": "Ada", "appMetadata": {}}
    assert updated["after"] == {"roles": ["support"], "firstName": "Augusta", "appMetadata": {"tier": 2}}
    disabled = about_person[-2]["details"]
    assert disabled["before"]["status"] == "ACTIVE"
    assert disabled["after"] == {"status": "DISABLED", "disabledUntil": None, "disabledReason": "review"}
    assert about_person[0]["details"] == {
        "before": {"twoFactorEnabled": True},
        "after": {"twoFactorEnabled": False},
    }

    about_created = [event for event in await all_events(client, userId=user_id) if event["adminKeyId"]]
    assert [event["action"] for event in about_created] == ["user_deleted", "user_created"]
    assert about_created[-1]["adminKeyId"] == key_id
    assert about_created[-1]["details"]["passwordSet"] is True
    assert about_created[-1]["details"]["invited"] is True
    keys = await all_events(client, action="admin_key_created")
    assert any(event["details"]["after"]["id"] == key_id for event in keys)
    assert (await all_events(client, action="admin_key_revoked"))[0]["details"]["before"]["id"] == key_id

    everything = json.dumps(await all_events(client, first=200), default=str)
    records, indexes = await stored_audit(admin_settings)
    everything += json.dumps(records, default=str)
    leaked = [secret for secret in secrets_seen if secret and secret in everything]
    assert leaked == []
    assert retention_of(indexes) == [30 * 86_400]


def retention_of(indexes: list[dict[str, Any]]) -> list[int]:
    """The expiry of every TTL index on the audit events' time."""
    return [index["expireAfterSeconds"] for index in indexes if "expireAfterSeconds" in index]


async def test_a_new_retention_replaces_the_ttl_index_at_start(backend_urls, mailbox, admin_settings):
    settings = admin_settings.model_copy(update={"audit_retention_days": 7})
    async with serve(settings):
        _, indexes = await stored_audit(settings)
        assert retention_of(indexes) == [7 * 86_400]


async def test_the_persons_own_security_events_are_in_the_same_log(client, mailbox):
    person = await register(client, mailbox)
    user_id, email = person["user"]["id"], person["user"]["email"]
    await data(client, LOGIN, {"email": email, "password": PASSWORD})
    await data(client, LOGIN, {"email": email, "password": "not the password"})
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # written off the request's path: a moment after the answer
        events = await all_events(client, first=50, userId=user_id)
        if "login_succeeded" in [event["action"] for event in events]:
            break
        assert asyncio.get_running_loop().time() < deadline, events
        await asyncio.sleep(0.05)
    signed_in = next(event for event in events if event["action"] == "login_succeeded")
    assert signed_in["adminKeyId"] is None
    assert signed_in["ipAddress"] == "203.0.113.7"
    assert email not in json.dumps(events) and PASSWORD not in json.dumps(events)
    assert person["accessToken"] not in json.dumps(events)


async def test_audit_pages_refuse_a_first_out_of_range_and_a_foreign_cursor(client):
    for first in (0, 201):
        body = await admin_call(client, AUDIT, {"first": first})
        assert codes(body) == ["BAD_USER_INPUT"]
    assert codes(await admin_call(client, AUDIT, {"first": 1, "after": "bm90IGEgY3Vyc29y"})) == [
        "BAD_USER_INPUT"
    ]
