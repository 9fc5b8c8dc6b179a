"""Unexpected failures are masked for the client and logged with traceback for us."""

import logging

import pymongo
from flows import LOGIN, gql, new_email


async def test_a_broken_document_answers_a_masked_internal_error(client, backend_urls, settings, caplog):
    # A user document another tool wrote badly: loading it fails validation inside Beanie.
    email = new_email()
    mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"])
    try:
        await mongo[settings.mongo_db]["users"].insert_one({"email": email, "password_hash": 42})
    finally:
        await mongo.close()

    with caplog.at_level(logging.ERROR, logger="authql.errors"):
        body = await gql(client, LOGIN, {"email": email, "password": "whatever password"})

    assert body["data"] is None
    assert body["errors"][0]["message"] == "Internal server error"
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "validation" not in str(body).lower() and "password_hash" not in str(body)
    logged = [record for record in caplog.records if record.name == "authql.errors"]
    assert logged and logged[0].exc_info is not None
