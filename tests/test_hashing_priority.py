"""L1: the hashing threads' nice value is a setting with a safe default (10: nice 19 can
starve logins when uvicorn workers >= cores), and a login's lockout slot runs its
deadline from when its hash starts, so a long wait for a hashing thread cannot free the
slot while its verify still runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from conftest import ASGI_CLIENT_IP, serve_app
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import LOGIN, data, new_email, register
from served import served
from test_hash_flood import nice_of, server_pid

from security.client_ip import client_bucket
from settings import Settings


def test_the_default_niceness_leaves_hashing_a_fair_share():
    assert Settings(_env_file=None).hashing_niceness == 10  # type: ignore[call-arg]


async def test_the_configured_niceness_is_the_hashing_threads(backend_urls, mailbox, tmp_path: Path):
    settings = settings_with(backend_urls, mailbox, hashing_niceness=7)
    async with (
        served(settings, tmp_path / "server.log") as url,
        httpx.AsyncClient(base_url=url, timeout=60) as client,
    ):
        await register(client, mailbox)  # hashes a password: the hashing threads exist now
        pid = server_pid(url)
        nice = {int(task.name): nice_of(pid, int(task.name)) for task in Path(f"/proc/{pid}/task").iterdir()}
    assert nice.pop(pid) == 0
    assert 7 in nice.values(), nice
    assert set(nice.values()) <= {0, 7}, nice


async def test_a_lockout_slot_runs_its_deadline_from_when_its_hash_starts(backend_urls, mailbox):
    # One hashing thread and dear hashes: a second login waits a whole hash for the thread.
    settings = settings_with(backend_urls, mailbox, password_workers=1, argon2_time_cost=12)
    async with serve_app(settings) as (client, app):
        email = (await register(client, mailbox))["user"]["email"]
        services = app.state.services
        bucket = client_bucket(ASGI_CLIENT_IP, settings.ipv6_prefix_length)
        in_flight = services.lockout._redis_keys(email, bucket)[1]

        unknown = {"email": new_email(), "password": "takes the thread"}
        busy = asyncio.create_task(data(client, LOGIN, unknown))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(data(client, LOGIN, {"email": email, "password": "a wrong password"}))
        deadlines: list[float] = []
        while not waiting.done():
            scores = await services.redis.zrange(in_flight, 0, -1, withscores=True)
            if scores and (not deadlines or scores[0][1] != deadlines[-1]):
                deadlines.append(scores[0][1])
            await asyncio.sleep(0.01)
        await busy
        assert (await waiting)["__typename"] == "InvalidCredentials"
    assert len(deadlines) == 2, f"the slot's deadline never moved when its hash started: {deadlines}"
    assert deadlines[1] > deadlines[0]
