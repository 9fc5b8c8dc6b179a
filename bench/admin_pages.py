"""The admin API's `users` page over many accounts: the accounts written straight into the
store (what thousands of registrations would leave, without their hashes), then wrk on the
first page and on the last one (the keyset cursor of the 50th account from the end)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

from bson import ObjectId
from pymongo import MongoClient

from bench.load import Request

ACCOUNTS = 100_000  # the count; --accounts for a quicker run
PAGE = 50
BATCH = 5_000
USERS = """query($first: Int!, $after: String) { users(first: $first, after: $after) {
  edges { cursor node { id email status roles } } pageInfo { hasNextPage endCursor } } }"""


def seed_accounts(mongo_url: str, database: str, count: int) -> int:
    """Insert `count` accounts in batches (ascending ObjectIds: created in order); the total
    the collection then holds."""
    client: MongoClient = MongoClient(mongo_url)
    try:
        users = client[database]["users"]
        now = datetime.now(UTC).replace(microsecond=0)
        for start in range(0, count, BATCH):
            users.insert_many(
                [
                    {
                        "_id": ObjectId(),
                        "email": f"bench-admin-{number}@example.com",
                        "password_hash": "",
                        "first_name": "Bench",
                        "last_name": f"Account {number}",
                        "created_at": now,
                        "updated_at": now,
                        "credential_version": 0,
                        "roles": [],
                        "app_metadata": {},
                    }
                    for number in range(start, min(start + BATCH, count))
                ],
                ordered=False,
            )
        return users.count_documents({})
    finally:
        client.close()


def last_page_cursor(mongo_url: str, database: str) -> str:
    """The cursor after which exactly the last PAGE accounts follow (the API's own form)."""
    client: MongoClient = MongoClient(mongo_url)
    try:
        [record] = (
            client[database]["users"].find({}, {"_id": 1}).sort("_id", -1).skip(PAGE).limit(1).to_list(None)
        )
    finally:
        client.close()
    return base64.urlsafe_b64encode(str(record["_id"]).encode()).decode().rstrip("=")


def page_request(admin_key: str, after: str | None, expect: str) -> Request:
    """One page of 50; `expect` is text only the right page holds."""
    body = json.dumps({"query": USERS, "variables": {"first": PAGE, "after": after}})
    return Request("POST", "/admin/graphql", expect, body=body, authorization=f"Bearer {admin_key}")


def wait_for_store(mongo_url: str, database: str, timeout: float = 900.0) -> float:
    """Seconds until the store answers an indexed read within a second three times running:
    pages the API gave up on (past BACKEND_TIMEOUT_SECONDS) go on in nx-27017, and the next
    part of the bench must not time out behind them."""
    began = time.monotonic()
    client: MongoClient = MongoClient(mongo_url, serverSelectionTimeoutMS=1000, socketTimeoutMS=1000)
    try:
        answered = 0
        while answered < 3:
            if time.monotonic() - began > timeout:
                raise RuntimeError(f"bench: the store did not settle within {timeout:g} s")
            try:
                client[database]["users"].find_one({"email": "bench-admin-0@example.com"})
                answered += 1
            except Exception:  # noqa: BLE001 - busy: try again
                answered = 0
            time.sleep(0.5)
    finally:
        client.close()
    return time.monotonic() - began
