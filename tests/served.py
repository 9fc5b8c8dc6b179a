"""authql served the way production runs it: `uvicorn server:app --no-proxy-headers` in a
child process on a real socket, configured through the environment.

For what an in-process transport cannot show: the client address uvicorn reports (and
whether it rewrote it from X-Forwarded-For), IPv6 peers, clients that hang up, and
hashing load that must not share the test's event loop.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from redis_client import sync_redis_client

from embedded import free_port
from settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# The production command of the README, less host and port.
PRODUCTION_COMMAND = ["uvicorn", "server:app", "--no-proxy-headers"]
# Rate-limit counters of these apps live in their own Redis database, emptied at each
# start: every client of theirs is 127.0.0.1 or ::1, which other apps' tests must not share.
# (A Redis Cluster has database 0 only, shared by every test worker: there they share it,
# unflushed. A limit's key names its rate, and the tight rates are each one test's own.)
REDIS_DB = 12


def served_settings(settings: Settings) -> Settings:
    """`settings` with Redis moved to REDIS_DB, as `served` runs its app (unchanged on a cluster)."""
    if settings.redis_cluster:
        return settings
    redis_url = urlsplit(settings.redis_url or "")._replace(path=f"/{REDIS_DB}").geturl()
    return settings.model_copy(update={"redis_url": redis_url})


def environment(settings: Settings) -> dict[str, str]:
    """`settings` as the environment variables that give them."""
    variables = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MONGO_", "REDIS_", "JWT_", "SMTP_", "AUTHQL_", "RATE_LIMIT_", "TRUSTED_"))
    }
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if name == "social_variables":  # SOCIAL_<ID>_<FIELD>, each its own variable
            variables.update({key.upper(): text for key, text in value.items()})
            continue
        if isinstance(value, Enum):
            value = value.value
        variables[name.upper()] = str(value)
    return variables


@asynccontextmanager
async def served(
    settings: Settings,
    log: Path,
    host: str = "127.0.0.1",
    arguments: Sequence[str] = (),
    variables: Mapping[str, str] | None = None,
    port: int | None = None,
) -> AsyncIterator[str]:
    """The app with `settings` (its Redis moved to REDIS_DB, emptied) on `host`; its base URL.

    `arguments` go to uvicorn (`--workers 2`, say), `variables` to its environment; `port`
    (default: a free one) when the settings must name it beforehand (PUBLIC_URL)."""
    settings = served_settings(settings)
    if not settings.redis_cluster:
        with sync_redis_client(settings) as redis:
            redis.flushdb()
    port = port or free_port()
    command = [sys.executable, "-m", *PRODUCTION_COMMAND, "--host", host, "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, *arguments, "--log-level", "warning"],
            cwd=ROOT,
            env={**environment(settings), **(variables or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    try:
        await asyncio.to_thread(wait_until_ready, process, url, log)
        yield url
    finally:
        stop(process)


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 60) -> None:
    """Block until `url` answers /health/ready with 200; fail with the server's log if it
    exits or is still not ready after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url) as client:
        while True:
            assert process.poll() is None, "the server exited:\n" + log.read_text(errors="replace")
            assert time.monotonic() < deadline, "not ready:\n" + log.read_text(errors="replace")
            try:
                if client.get("/health/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not ended within 15 s."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
