"""Real child processes: embedded Mongo (nx-27017) and Redis start, serve, stop and keep their data."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from embedded import (
    EmbeddedService,
    EmbeddedServiceError,
    free_port,
    redis_server_binary,
    start_mongo,
    start_redis,
    start_services,
    stop_services,
)
from server import embedded_jwt_secret
from settings import ConfigurationError


@pytest.fixture
def started() -> Iterator[list[EmbeddedService]]:
    """Collects services a test starts so none outlives a failing test."""
    services: list[EmbeddedService] = []
    yield services
    stop_services(services)


def port_refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def port_of(service: EmbeddedService) -> int:
    return int(service.url.split(":")[2].split("/")[0])


@pytest.mark.subprocess
async def test_redis_serves_and_stops(tmp_path: Path, started: list[EmbeddedService]) -> None:
    service = start_redis(tmp_path)
    started.append(service)
    assert service.name == "redis"
    assert service.url.startswith("redis://127.0.0.1:") and service.url.endswith("/0")

    client = aioredis.Redis.from_url(service.url)
    await client.set("greeting", "hello")
    assert await client.get("greeting") == b"hello"
    await client.aclose()

    service.stop()
    assert service.process.poll() is not None
    assert port_refuses(port_of(service))
    assert (tmp_path / "redis").is_dir()
    assert "Ready to accept connections" in service.log_path.read_text()


@pytest.mark.subprocess
async def test_mongo_restart_keeps_data(tmp_path: Path, started: list[EmbeddedService]) -> None:
    first = start_mongo(tmp_path)
    started.append(first)
    assert first.name == "mongo"
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(first.url)
    await client.authql.users.insert_one({"email": "a@example.com"})
    assert (await client.authql.users.find_one({"email": "a@example.com"})) is not None
    await client.close()
    first.stop()
    assert first.process.poll() is not None
    assert port_refuses(port_of(first))

    second = start_mongo(tmp_path)
    started.append(second)
    client = AsyncMongoClient(second.url)
    found = await client.authql.users.find_one({"email": "a@example.com"}, {"_id": 0})
    await client.close()
    assert found == {"email": "a@example.com"}
    # Logs go to the file, not to our console.
    assert "Listening on" in second.log_path.read_text()


@pytest.mark.subprocess
async def test_redis_restart_keeps_data(tmp_path: Path, started: list[EmbeddedService]) -> None:
    first = start_redis(tmp_path)
    started.append(first)
    client = aioredis.Redis.from_url(first.url)
    await client.set("session", "abc")
    await client.aclose()
    first.stop()

    second = start_redis(tmp_path)
    started.append(second)
    client = aioredis.Redis.from_url(second.url)
    assert await client.get("session") == b"abc"
    await client.aclose()
    assert (tmp_path / "redis" / "appendonly.aof").is_file()


@pytest.mark.subprocess
def test_mongo_on_taken_port_fails_fast(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        began = time.monotonic()
        with pytest.raises(EmbeddedServiceError) as info:
            start_mongo(tmp_path, port=port, timeout=5)
        assert time.monotonic() - began < 8
    message = str(info.value)
    assert "mongo" in message
    assert str(tmp_path / "mongo.log") in message


@pytest.mark.subprocess
def test_redis_on_taken_port_fails_fast(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        began = time.monotonic()
        with pytest.raises(EmbeddedServiceError, match=r"redis would not start \(exited"):
            start_redis(tmp_path, port=blocker.getsockname()[1], timeout=5)
        assert time.monotonic() - began < 3


@pytest.mark.subprocess
def test_stop_is_idempotent(tmp_path: Path, started: list[EmbeddedService]) -> None:
    service = start_redis(tmp_path)
    started.append(service)
    service.stop()
    code = service.process.returncode
    assert code is not None
    service.stop()
    service.stop(timeout=0.1)
    assert service.process.returncode == code


@pytest.mark.subprocess
def test_start_services_starts_both_and_stop_services_stops_both(tmp_path: Path) -> None:
    services = start_services(tmp_path, mongo=True, redis=True)
    try:
        assert [s.name for s in services] == ["mongo", "redis"]
        assert all(s.process.poll() is None for s in services)
    finally:
        stop_services(services)
    assert all(s.process.poll() is not None for s in services)
    assert start_services(tmp_path, mongo=False, redis=False) == []


def test_helpers(tmp_path: Path) -> None:
    assert Path(redis_server_binary()).is_file()
    port = free_port()
    assert 0 < port < 65536 and port_refuses(port)


@pytest.mark.subprocess
async def test_embedded_data_and_logs_are_owner_only(tmp_path: Path, started: list[EmbeddedService]) -> None:
    # A DATA_DIR that already exists, open to everyone, under the common umask 022.
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    previous = os.umask(0o022)
    try:
        started.extend(start_services(data_dir, mongo=True, redis=True))
    finally:
        os.umask(previous)
    mongo, redis = started
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo.url)
    await client.authql.users.insert_one({"email": "a@example.com", "password_hash": "$argon2id$..."})
    await client.close()
    cache = aioredis.Redis.from_url(redis.url)
    await cache.set("session", "abc")
    await cache.aclose()
    stop_services(started)

    paths = [data_dir, *data_dir.rglob("*")]
    assert any(path.parent.name == "mongo" and path.is_file() for path in paths), paths
    assert any("appendonly" in path.name and path.is_file() for path in paths), paths
    loose = {str(path): oct(path.stat().st_mode & 0o777) for path in paths if path.stat().st_mode & 0o077}
    assert loose == {}


def test_a_generated_jwt_secret_others_may_read_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    secret = embedded_jwt_secret(data_dir)
    assert len(secret) >= 32
    assert (data_dir / "jwt_secret").stat().st_mode & 0o777 == 0o600
    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert embedded_jwt_secret(data_dir) == secret  # kept across restarts

    (data_dir / "jwt_secret").chmod(0o644)
    with pytest.raises(ConfigurationError, match=r"jwt_secret is readable or writable by group or others"):
        embedded_jwt_secret(data_dir)


def test_a_free_port_is_never_one_promised_to_the_server():
    """`python server.py` on a port picked for it (by a test or a supervisor) starts its
    store and Redis first, on ports the OS calls free, and binds its own only then: neither
    may take the server's (CI saw `address already in use` once)."""
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    allowed = set(range(low, low + 50))
    promised = frozenset(range(low, high + 1)) - allowed
    assert {free_port(promised) for _ in range(5)} <= allowed
