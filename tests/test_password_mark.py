"""L7: a chosen password whose NFKC form differs costs one argon2 verify, not two, once
the stored hash is marked as made of the NFKC form (every hash stored now); only a hash
stored without the mark is tried in both forms, and the next login marks it."""

from __future__ import annotations

import pymongo
from argon2 import PasswordHasher
from conftest import CHEAP_ARGON2
from flows import LOGIN, PASSWORD, data, new_email, register
from prometheus_client import REGISTRY

# Full-width letters: the NFKC form ("wrong horse battery") differs from what is typed.
CHOSEN = "ｗｒｏｎｇ ｈｏｒｓｅ ｂａｔｔｅｒｙ"


def verifies() -> float:
    """argon2 verifies this process has run so far (the hashing threads' own count)."""
    return REGISTRY.get_sample_value("authql_password_hash_seconds_count", {"kind": "verify"}) or 0.0


async def verifies_of_login(client, email: str, password: str) -> tuple[str, float]:
    before = verifies()
    answer = await data(client, LOGIN, {"email": email, "password": password})
    return answer["__typename"], verifies() - before


async def test_a_password_with_a_different_nfkc_form_costs_one_verify(client, mailbox):
    email = new_email()
    await register(client, mailbox, email)
    assert await verifies_of_login(client, email, CHOSEN) == ("InvalidCredentials", 1)
    assert await verifies_of_login(client, new_email(), CHOSEN) == ("InvalidCredentials", 1)
    assert await verifies_of_login(client, email, PASSWORD) == ("AuthPayload", 1)


async def test_an_unmarked_hash_is_tried_in_both_forms_then_marked(client, mailbox, backend_urls, settings):
    email = new_email()
    await register(client, mailbox, email)
    unmarked = PasswordHasher(
        time_cost=CHEAP_ARGON2["argon2_time_cost"],
        memory_cost=CHEAP_ARGON2["argon2_memory_kib"],
        parallelism=CHEAP_ARGON2["argon2_parallelism"],
    ).hash(PASSWORD)
    mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"])
    try:
        users = mongo[settings.mongo_db]["users"]
        await users.update_one({"email": email}, {"$set": {"password_hash": unmarked}})
        assert await verifies_of_login(client, email, CHOSEN) == ("InvalidCredentials", 2)
        assert (await verifies_of_login(client, email, PASSWORD))[0] == "AuthPayload"
        assert (await users.find_one({"email": email}))["password_hash"].startswith("nfkc:$argon2id$")
    finally:
        await mongo.close()
    assert await verifies_of_login(client, email, CHOSEN) == ("InvalidCredentials", 1)
