"""The admin API's `users` page over many accounts: the accounts written straight into the
store (what thousands of registrations would leave, without their hashes), then wrk on the
first page and on the last one (the keyset cursor of the 50th account from the end)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from bson import ObjectId
from pymongo import MongoClient

from bench.load import Request
from bench.timed import timed_rounds

ACCOUNTS = 100_000  # the count; --accounts for a quicker run
PAGE = 50
BATCH = 5_000
USERS = """query($first: Int!, $after: String) { users(first: $first, after: $after) {
  edges { cursor node { id email status roles } } pageInfo { hasNextPage endCursor } } }"""


def seed_accounts(
    mongo_url: str, database: str, count: int, *, email_prefix: str = "bench-admin", password_hash: str = ""
) -> int:
    """Insert `count` accounts, `<email_prefix>-<n>@example.com`, in batches (ascending
    ObjectIds: created in order); the total the collection then holds."""
    client: MongoClient = MongoClient(mongo_url)
    try:
        users = client[database]["users"]
        now = datetime.now(UTC).replace(microsecond=0)
        for start in range(0, count, BATCH):
            users.insert_many(
                [
                    {
                        "_id": ObjectId(),
                        "email": f"{email_prefix}-{number}@example.com",
                        "password_hash": password_hash,
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


async def pages(base_url: str, request: Request, *, seconds: float) -> dict[str, Any]:
    """One operator paging: `request` again and again for `seconds` (at least once), each
    answer checked for its page's own account; the numbers of a wrk run. Not wrk: a page
    slower than the run would never be counted."""
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:

        async def page(_: int) -> bool:
            answer = await client.post(
                request.path,
                content=request.body,
                headers={"Authorization": request.authorization, "Content-Type": "application/json"},
            )
            return answer.status_code == 200 and request.expect in answer.text

        return await timed_rounds(page, seconds=seconds, concurrency=1)


async def wait_for_authql(base_url: str, admin_key: str, timeout: float = 900.0) -> float:
    """Seconds until authql answers an indexed admin read three times running: pages it gave
    up on (past BACKEND_TIMEOUT_SECONDS) go on in nx-27017, and the next part of the bench
    must not time out behind them."""
    began = time.monotonic()
    body = {"query": 'query { user(email: "bench-admin-0@example.com") { id } }'}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        answered = 0
        while answered < 3:
            if time.monotonic() - began > timeout:
                raise RuntimeError(f"bench: authql's store did not settle within {timeout:g} s")
            try:
                answer = await client.post(
                    "/admin/graphql", json=body, headers={"Authorization": f"Bearer {admin_key}"}
                )
                good = answer.status_code == 200 and '"id"' in answer.text
            except httpx.HTTPError:
                good = False
            answered = answered + 1 if good else 0
            await asyncio.sleep(0.5)
    return time.monotonic() - began
