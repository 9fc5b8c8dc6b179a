"""MongoDB as production runs it: majority, journaled writes and primary reads; a wait for
a primary that outlasts an election; indexes built by an explicit step and only checked
by the workers; and a cap on the sessions one user may have open."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import serve, serve_app
from conftest import test_settings as settings_with
from flows import LOGIN, ME, PASSWORD, data, gql, register

from settings import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
REFRESH = """mutation($token: String!) { refreshTokens(refreshToken: $token) {
  __typename ... on AuthPayload { accessToken } } }"""


async def test_writes_wait_for_a_majority_on_disk_and_reads_go_to_the_primary(settings):
    async with serve_app(settings) as (_, app):
        mongo = app.state.services.mongo
        concern = mongo.write_concern.document
        assert concern["w"] == "majority" and concern["j"] is True and concern["wtimeout"] > 0
        assert mongo.read_preference.mongos_mode == "primary"


def test_a_replica_set_is_waited_for_through_an_election(backend_urls, mailbox):
    replica_set = {**backend_urls, "mongo_url": "mongodb://db1,db2,db3/?replicaSet=rs0"}
    assert settings_with(replica_set, mailbox).mongo_selection_seconds == 12
    assert settings_with(backend_urls, mailbox).mongo_selection_seconds == 2  # the tests' backend timeout
    chosen = settings_with(replica_set, mailbox, mongo_selection_timeout_seconds=20)
    assert chosen.mongo_selection_seconds == 20


async def test_a_sign_in_past_the_cap_ends_the_oldest_session(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, max_sessions_per_user=2)) as client:
        first = await register(client, mailbox)
        email = first["user"]["email"]
        second = await data(client, LOGIN, {"email": email, "password": PASSWORD})
        assert (await data(client, ME, token=first["accessToken"]))["id"] == first["user"]["id"]
        third = await data(client, LOGIN, {"email": email, "password": PASSWORD})

        assert (await gql(client, ME, token=first["accessToken"]))["errors"][0]["extensions"]["code"] == (
            "UNAUTHENTICATED"
        )
        assert (await data(client, REFRESH, {"token": first["refreshToken"]}))["__typename"] != "AuthPayload"
        for kept in (second, third):
            assert (await data(client, ME, token=kept["accessToken"]))["id"] == first["user"]["id"]


@pytest.mark.subprocess
async def test_workers_only_check_the_indexes_the_migrate_step_builds(backend_urls, mailbox):
    fresh = settings_with(
        backend_urls, mailbox, mongo_db="authql_migrate_" + secrets.token_hex(4), mongo_indexes="check"
    )
    with pytest.raises(ConfigurationError, match="documents.migrate") as refused:
        async with serve(fresh):
            pass
    assert "users.email_unique" in str(refused.value)

    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("MONGO_", "REDIS_"))},
        "MONGO_URL": fresh.mongo_url or "",
        "MONGO_DB": fresh.mongo_db,
        "REDIS_URL": fresh.redis_url or "",
        "JWT_SECRET": fresh.jwt_secret or "",
        "SMTP_HOST": "127.0.0.1",
        "OUTBOX_COLLECTION": fresh.outbox_collection,
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "documents.migrate"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stderr.decode()
    assert "users.email_unique" in migrated.stdout.decode()

    async with serve(fresh) as client:
        await register(client, mailbox)
