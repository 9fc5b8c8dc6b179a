"""`python server.py` as a user runs it: embedded services, uvicorn on a real socket,
the console mailer, Ctrl-C, and a restart that keeps accounts."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from flows import (
    COMPLETE,
    LOGIN,
    ME,
    PASSWORD,
    PROFILE,
    SET_PASSWORD,
    START,
    VERIFY,
    data,
    new_email,
)

from embedded import free_port

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parent.parent


class ServerProcess:
    def __init__(self, data_dir: Path, port: int, **variables: str) -> None:
        self.port = port
        self.output = data_dir.parent / f"server-{time.monotonic_ns()}.out"
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MONGO_", "REDIS_", "JWT_", "SMTP_", "AUTHQL_"))
        }
        environment.update(DATA_DIR=str(data_dir), PORT=str(port), PYTHONUNBUFFERED="1", **variables)
        self.process = subprocess.Popen(
            [sys.executable, "server.py"],
            cwd=ROOT,
            env=environment,
            stdout=self.output.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{port}"

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, self.log()
                try:
                    if (await client.get(self.url + "/health/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError("server did not become ready:\n" + self.log())

    async def console_code(self, email: str, timeout: float = 10) -> str:
        """The code the console mailer printed for `email` (the last one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            blocks = self.log().split("To: ")
            for block in reversed(blocks):
                if block.startswith(email):
                    match = re.search(r"^\s*(\d{6})\s*$", block, re.MULTILINE)
                    if match:
                        return match.group(1)
            await asyncio.sleep(0.1)
        raise AssertionError("no code printed for " + email)

    def interrupt(self, how: signal.Signals = signal.SIGINT, timeout: float = 20) -> list[psutil.Process]:
        """Ctrl-C (or another signal); the children the server had, for checking that they
        are gone too."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        self.process.send_signal(how)
        self.process.wait(timeout)
        return children

    def kill(self) -> None:
        if self.process.poll() is None:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.kill()
            self.process.kill()
            self.process.wait()


@pytest.fixture
def server_data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


# The embedded server hashes at its real argon2 cost, at a low priority: on a loaded machine
# one hash can take longer than httpx's 5 s default.
SLOW_HASH_TIMEOUT = 30.0

SESSIONS = "query { sessions { ipAddress current } }"


async def test_embedded_server_signs_up_over_a_socket_and_keeps_accounts_across_restart(server_data_dir):
    email = new_email()
    # No trusted proxy: X-Forwarded-For from this loopback client must change nothing
    # (uvicorn would believe it from 127.0.0.1 on its own, were its proxy headers on).
    first = ServerProcess(server_data_dir, free_port(), TRUSTED_PROXIES="", RATE_LIMIT_LOGIN="6/minute")
    try:
        await first.wait_ready()
        async with httpx.AsyncClient(base_url=first.url, timeout=SLOW_HASH_TIMEOUT) as client:
            ide = await client.get("/graphql", headers={"Accept": "text/html"})
            assert ide.status_code == 200 and "graphiql" in ide.text.lower()

            started = await data(client, START, {"email": email})
            code = await first.console_code(email)
            verified = await data(client, VERIFY, {"id": started["registrationId"], "code": code})
            token = verified["registrationToken"]
            await data(client, SET_PASSWORD, {"token": token, "password": PASSWORD})
            payload = await data(client, COMPLETE, {"token": token, "profile": PROFILE})
            assert payload["__typename"] == "AuthPayload"

            forged = {"X-Forwarded-For": "198.51.100.1"}
            response = await client.post(
                "/graphql",
                json={"query": LOGIN, "variables": {"email": email, "password": PASSWORD}},
                headers=forged,
            )
            signed_in = response.json()["data"]["login"]
            sessions = await data(client, SESSIONS, token=signed_in["accessToken"])
            assert [session["ipAddress"] for session in sessions if session["current"]] == ["127.0.0.1"]
            kinds = []
            for n in range(2, 8):  # six more, a new forged address each time: the 7th is refused
                guess = {"email": new_email(), "password": "not the password at all"}
                response = await client.post(
                    "/graphql",
                    json={"query": LOGIN, "variables": guess},
                    headers={"X-Forwarded-For": f"198.51.100.{n}"},
                )
                kinds.append(response.json()["data"]["login"]["__typename"])
            assert kinds == ["InvalidCredentials"] * 5 + ["RateLimited"], kinds
        children = first.interrupt()
    finally:
        first.kill()

    assert first.process.returncode == 0, first.log()
    assert len(children) == 2, "expected nx-27017 and redis-server as children"
    assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)
    log = first.log()
    assert "JWT_SECRET is not set" in log
    secret_file = server_data_dir / "jwt_secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    # A data key of its own, generated at the first start (a fresh DATA_DIR: no `legacy`).
    [data_key] = list((server_data_dir / "data-keys").iterdir())
    assert data_key.name != "legacy" and data_key.stat().st_mode & 0o777 == 0o600
    assert data_key.read_text().strip() not in log
    # Outside the console mailer's own message body, no secret is printed.
    assert log.count(code) == 1
    assert PASSWORD not in log and token not in log and payload["accessToken"] not in log

    second = ServerProcess(server_data_dir, free_port())
    try:
        await second.wait_ready()
        async with httpx.AsyncClient(base_url=second.url, timeout=SLOW_HASH_TIMEOUT) as client:
            login = await data(client, LOGIN, {"email": email, "password": PASSWORD})
            assert login["__typename"] == "AuthPayload"
            assert login["user"]["id"] == payload["user"]["id"]
            # The generated secret was kept: a token from before the restart still works.
            me = await data(client, ME, token=payload["accessToken"])
            assert me["email"] == email
        # SIGTERM (systemd, Docker, Kubernetes) stops it as Ctrl-C does: children included.
        children = second.interrupt(signal.SIGTERM)
    finally:
        second.kill()

    assert second.process.returncode == 0, second.log()
    assert len(children) == 2
    assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)


async def test_server_refuses_to_start_with_an_unsafe_setting(server_data_dir):
    environment = {**os.environ, "DATA_DIR": str(server_data_dir), "CODE_MAX_ATTEMPTS": "50"}
    result = subprocess.run(
        [sys.executable, "server.py"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "CODE_MAX_ATTEMPTS" in result.stderr
    assert "Traceback" not in result.stderr
