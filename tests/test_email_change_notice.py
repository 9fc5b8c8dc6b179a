"""L3: the notice to the old address can't be lost by a failure after the address changed.

MongoDB is stalled (SIGSTOP) while a confirm is under way, Redis is stopped meanwhile,
then MongoDB resumes: whatever the confirm got to, an address that changed has its
notice in the outbox. (Before, the write landed, the stamp after it failed, and the
notice, queued last, never was.) A change that is refused withdraws its held notice."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pymongo
from conftest import serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import gql, new_email, register
from test_email_change import CONFIRM_CHANGE, change_code, start_change

from embedded import start_mongo, start_redis

ME = "query { me { email } }"


async def test_a_failure_after_the_change_never_loses_the_notice(backend_urls, mailbox, tmp_path):
    mongo = start_mongo(tmp_path / "mongo")
    redis = start_redis(tmp_path / "redis")
    settings = settings_with(backend_urls, mailbox, mongo_url=mongo.url, redis_url=redis.url)
    try:
        async with serve(settings) as client:
            registered = await register(client, mailbox)
            token, old = registered["accessToken"], registered["user"]["email"]
            new = new_email()
            started = await start_change(client, token, new)
            code = await change_code(mailbox, new)
            for _ in range(3):  # the user and the session kept: the confirm reads Redis first
                assert not (await gql(client, ME, token=token)).get("errors")

            os.kill(mongo.process.pid, signal.SIGSTOP)
            try:
                confirm = asyncio.create_task(
                    gql(client, CONFIRM_CHANGE, {"id": started["changeId"], "code": code}, token=token)
                )
                await asyncio.sleep(0.5)  # the confirm now waits on MongoDB
                redis.stop()
            finally:
                os.kill(mongo.process.pid, signal.SIGCONT)
            answer = await confirm
            answered = answer.get("errors") or answer["data"]["confirmEmailChange"]["__typename"]
            assert answered, answer

            stored, notices = await stored_email_and_notices(mongo.url, settings)
            assert stored in (old, new)
            if stored == new:
                assert notices == 1, "the address changed and its notice was lost"
    finally:
        redis.stop()
        mongo.stop()


async def stored_email_and_notices(mongo_url: str, settings: Any) -> tuple[str, int]:
    client = pymongo.AsyncMongoClient(mongo_url)
    try:
        database = client[settings.mongo_db]
        users = await database["users"].find({}).to_list()
        notices = await database[settings.outbox_collection].count_documents({"template": "email_changed"})
    finally:
        await client.close()
    assert len(users) == 1
    return users[0]["email"], notices
