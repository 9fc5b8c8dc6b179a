"""A Redis that goes back in time must not bring revoked sessions or changed passwords
back (security/redis_watch.py, security/sessions.py `confirmed`, security/user_cache.py).

A real redis-server that keeps its data in an RDB snapshot only (as Redis's default
`save` schedule does): a snapshot is taken, a session is ended and a password changed,
then Redis goes back to the snapshot, by a restart (a new server: a new run_id) or by
`DEBUG RELOAD NOSAVE` (the same server: only the age bound catches it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import AUTH, LOGIN, ME, PASSWORD, data, gql, register
from redis.asyncio import Redis

from embedded import (
    HOST,
    EmbeddedService,
    _redis_ping,
    _spawn,
    _wait_ready,
    free_port,
    redis_server_binary,
)

NEW_PASSWORD = "a brand new horse battery"
CHANGE_PASSWORD = f"""mutation($current: String!, $new: String!) {{
  changePassword(currentPassword: $current, newPassword: $new) {{ __typename {AUTH} }} }}"""
LOGOUT = "mutation { logout { revokedSessions } }"


def start_snapshot_redis(directory: Path, port: int) -> EmbeddedService:
    """redis-server with no AOF and no automatic saves: its data on disk is the last SAVE."""
    args = [
        redis_server_binary(), "--port", str(port), "--bind", HOST, "--dir", str(directory),
        "--appendonly", "no", "--save", "", "--dbfilename", "dump.rdb", "--daemonize", "no",
        "--logfile", "",
    ]  # fmt: skip
    service = _spawn("redis", f"redis://{HOST}:{port}/0", args, directory / "redis.log")
    _wait_ready(service, port, 20, lambda: _redis_ping(port))
    return service


@pytest.fixture
def snapshot_redis(tmp_path: Path) -> Iterator[list[EmbeddedService]]:
    """The running snapshot Redis, as a one-item list a test may replace by a restart."""
    running = [start_snapshot_redis(tmp_path, free_port())]
    try:
        yield running
    finally:
        running[0].stop()


def refused(body: dict[str, Any]) -> bool:
    return body.get("data") is None and [e["extensions"]["code"] for e in body.get("errors", [])] == [
        "UNAUTHENTICATED"
    ]


async def accepted(client: httpx.AsyncClient, token: str) -> bool:
    body = await gql(client, ME, token=token)
    assert refused(body) or not body.get("errors"), body
    return not body.get("errors")


async def warm(client: httpx.AsyncClient, *tokens: str) -> None:
    """Reads enough for the process to keep the user and the sessions."""
    for token in tokens:
        for _ in range(3):
            assert await accepted(client, token)


async def revoke_after_snapshot(
    reader: httpx.AsyncClient, writer: httpx.AsyncClient, redis: Redis, mailbox: Any
) -> tuple[str, str, str]:
    """A user with two sessions, both warm on the reader (it keeps the user and both
    sessions); a snapshot; then, through the writer (another worker), one session logged
    out and the password changed on the other. The reader reads nothing meanwhile.
    The logged-out token, the pre-change token, the new one."""
    registered = await register(writer, mailbox)
    first = registered["accessToken"]
    signed_in = await data(writer, LOGIN, {"email": registered["user"]["email"], "password": PASSWORD})
    second = signed_in["accessToken"]
    await warm(reader, first, second)
    assert await redis.save()
    assert (await data(writer, LOGOUT, token=second))["revokedSessions"] == 1
    changed = await data(writer, CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}, token=first)
    assert changed["__typename"] == "AuthPayload", changed
    assert not await accepted(writer, second)
    assert not await accepted(writer, first)
    return second, first, changed["accessToken"]


async def test_a_redis_restarted_from_an_old_snapshot_brings_no_revocation_back(
    backend_urls, mailbox, snapshot_redis
):
    """A restart is a new server: the process notices on its first new connection and asks
    MongoDB again, so nothing revoked since the snapshot is accepted, not even once (the
    age bound is set far off: the watch alone must catch it)."""
    service = snapshot_redis[0]
    port = int(service.url.rsplit(":", 1)[1].split("/")[0])
    settings = settings_with(backend_urls, mailbox, redis_url=service.url, kept_trust_seconds=300)
    async with serve(settings) as client, serve(settings) as writer, Redis.from_url(service.url) as redis:
        logged_out, old, new = await revoke_after_snapshot(client, writer, redis, mailbox)

        service.stop()  # no save on the way down: the snapshot on disk is the one before
        snapshot_redis[0] = service = start_snapshot_redis(Path(service.log_path).parent, port)
        # Redis holds the past again: the logged-out session's key and the old user stamp.
        async with Redis.from_url(service.url) as restarted:
            assert await restarted.exists(live_key_of(logged_out))

        assert not await accepted(client, logged_out)
        assert not await accepted(client, old)
        assert await accepted(client, new)


async def test_a_rollback_on_the_same_server_is_caught_within_the_age_bound(
    backend_urls, mailbox, snapshot_redis
):
    """`DEBUG RELOAD NOSAVE` reloads the snapshot in place: the run_id stays, so only the
    age bound (KEPT_TRUST_SECONDS, 1 here) stands between the rollback and the old tokens."""
    service = snapshot_redis[0]
    settings = settings_with(backend_urls, mailbox, redis_url=service.url, kept_trust_seconds=1)
    async with serve(settings) as client, serve(settings) as writer, Redis.from_url(service.url) as redis:
        logged_out, old, new = await revoke_after_snapshot(client, writer, redis, mailbox)
        await redis.execute_command("DEBUG", "RELOAD", "NOSAVE")
        rolled_back = asyncio.get_running_loop().time()
        assert await redis.exists(live_key_of(logged_out))

        while await accepted(client, logged_out) or await accepted(client, old):
            assert asyncio.get_running_loop().time() - rolled_back < 1.5, "kept past KEPT_TRUST_SECONDS"
            await asyncio.sleep(0.05)
        assert await accepted(client, new)


def live_key_of(token: str) -> str:
    """The session's live key, named from the token's claims read without checking."""
    import jwt  # noqa: PLC0415

    claims = jwt.decode(token, options={"verify_signature": False})
    return f"live-session:{{{claims['sub']}}}:{claims['sid']}"


class SwitchingProxy:
    """A TCP proxy in front of Redis that can move every open connection to another
    server between commands, as a failover behind a proxy does: the app's connections
    stay open, so only the background watch can notice the new server."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._links: list[Any] = []

    async def __aenter__(self) -> SwitchingProxy:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for link in self._links:
            link["upstream"][1].close()
            link["client"].close()

    async def switch(self, target: int) -> None:
        """Every connection now talks to `target` (call it while no command is in flight)."""
        self.target = target
        for link in self._links:
            link["upstream"][1].close()
            link["upstream"] = await asyncio.open_connection(HOST, target)
            asyncio.get_running_loop().create_task(self._pipe_back(link, link["upstream"][0]))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link: dict[str, Any] = {
            "client": writer,
            "upstream": await asyncio.open_connection(HOST, self.target),
        }
        self._links.append(link)
        asyncio.get_running_loop().create_task(self._pipe_back(link, link["upstream"][0]))
        while data := await reader.read(65536):
            link["upstream"][1].write(data)
            await link["upstream"][1].drain()

    async def _pipe_back(self, link: dict[str, Any], upstream: asyncio.StreamReader) -> None:
        while (data := await upstream.read(65536)) and link["upstream"][0] is upstream:
            link["client"].write(data)
            await link["client"].drain()


async def test_a_failover_behind_a_proxy_is_caught_by_the_background_watch(
    backend_urls, mailbox, tmp_path: Path
):
    """The app's connections stay open through a proxy while Redis fails over to a
    replica that lagged (it holds the revoked session's key and the old user stamp):
    REDIS_WATCH_SECONDS, not the age bound (300 s here), must catch it."""
    for name in ("primary", "lagging"):
        (tmp_path / name).mkdir()
    primary = start_snapshot_redis(tmp_path / "primary", free_port())
    lagging = start_snapshot_redis(tmp_path / "lagging", free_port())
    try:
        primary_port = int(primary.url.rsplit(":", 1)[1].split("/")[0])
        lagging_port = int(lagging.url.rsplit(":", 1)[1].split("/")[0])
        async with SwitchingProxy(primary_port) as proxy:
            url = f"redis://{HOST}:{proxy.port}/0"
            settings = settings_with(
                backend_urls, mailbox, redis_url=url, kept_trust_seconds=300, redis_watch_seconds=0.5
            )
            async with (
                serve(settings) as client,
                serve(settings_with(backend_urls, mailbox, redis_url=primary.url)) as writer,
                Redis.from_url(lagging.url) as replica,
            ):
                registered = await register(writer, mailbox)
                email = registered["user"]["email"]
                signed_in = await data(writer, LOGIN, {"email": email, "password": PASSWORD})
                kept = signed_in["accessToken"]
                await warm(client, kept)
                # The replica copies the primary, then falls behind: it stops following.
                await replica.replicaof(HOST, primary_port)
                while (await replica.info("replication")).get("master_link_status") != "up":
                    await asyncio.sleep(0.05)
                await replica.replicaof("NO", "ONE")
                assert (await data(writer, LOGOUT, token=kept))["revokedSessions"] == 1
                assert not await accepted(writer, kept)

                await proxy.switch(lagging_port)
                failed_over = asyncio.get_running_loop().time()
                assert await replica.exists(live_key_of(kept))
                # A command in flight through the proxy at the switch is lost (a timeout, as in
                # a real failover): only an UNAUTHENTICATED answer ends the wait.
                while not refused(await gql(client, ME, token=kept)):
                    took = asyncio.get_running_loop().time() - failed_over
                    assert took < 3, "the watch missed the failover"
                    await asyncio.sleep(0.05)
    finally:
        primary.stop()
        lagging.stop()
