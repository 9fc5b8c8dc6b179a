"""Several apps in one process (the tests run hundreds) each keep working on their own
database: Beanie binds its document classes per process, and each app binds them to its
own database before a request when another app took them or stopped (endpoints/middleware.py,
Front)."""

from __future__ import annotations

import secrets
from typing import Any

from conftest import Mailbox, serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import LOGIN, PASSWORD, data, register
from pymongo import AsyncMongoClient


async def test_two_apps_on_two_databases_each_keep_their_own_accounts_when_the_other_stops(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    tag = secrets.token_hex(4)
    first = settings_with(backend_urls, mailbox, mongo_db=f"authql_first_{tag}")
    second = settings_with(backend_urls, mailbox, mongo_db=f"authql_second_{tag}")
    async with serve(first) as one:
        async with serve(second) as two:  # started last: Beanie is bound to its database
            in_one = (await register(one, mailbox))["user"]["email"]
            in_two = (await register(two, mailbox))["user"]["email"]
            in_one_again = (await register(one, mailbox))["user"]["email"]
        # The second app stopped and closed the client Beanie was last bound through.
        for email in (in_one, in_one_again):
            signed = await data(one, LOGIN, {"email": email, "password": PASSWORD})
            assert signed["__typename"] == "AuthPayload", signed
        refused = await data(one, LOGIN, {"email": in_two, "password": PASSWORD})
        assert refused["__typename"] == "InvalidCredentials", refused

    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backend_urls["mongo_url"])
    try:
        emails = {
            name: {user["email"] async for user in mongo[name]["users"].find({}, {"email": 1})}
            for name in (first.mongo_db, second.mongo_db)
        }
        assert emails == {first.mongo_db: {in_one, in_one_again}, second.mongo_db: {in_two}}
    finally:
        for name in (first.mongo_db, second.mongo_db):
            await mongo.drop_database(name)
        await mongo.close()
