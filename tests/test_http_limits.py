"""Hostile HTTP against a real uvicorn on a socket: fragment bombs, unknown fragments,
deep JSON, bodies that stop or crawl. Each gets a quick typed answer (or, for a client
that hung up, silence), the event loop stays free, and the server logs no traceback."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import Mailbox
from conftest import test_settings as settings_with
from served import stop, wait_until_ready
from test_gate import assert_head_refused, exchange

from embedded import free_port

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parent.parent
BODY_READ_TIMEOUT = 1

SERVE = """
import json, os, sys
import uvicorn
from server import connection_limits, create_app
from settings import Settings
settings = Settings(_env_file=None, **json.loads(os.environ["AUTHQL_HTTP_SETTINGS"]))
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[1]), **connection_limits(settings))
"""


@dataclass
class Served:
    url: str
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_quiet(self) -> None:
        """No traceback, nor uvicorn's "Exception in ASGI application", in the server's output."""
        log = self.log()
        assert "Traceback" not in log and "Exception in ASGI" not in log, log


@pytest.fixture(scope="module")
def served(
    backend_urls: dict[str, str], mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    settings = settings_with(
        backend_urls,
        mailbox,
        mongo_db="authql_http_" + secrets.token_hex(4),
        body_read_timeout_seconds=BODY_READ_TIMEOUT,
        max_fragments=100,  # the fragment bombs below test the depth and alias rules, not this count
    )
    port = free_port()
    log_path = tmp_path_factory.mktemp("http") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port)],
            cwd=ROOT,
            env={**os.environ, "AUTHQL_HTTP_SETTINGS": json.dumps(settings.model_dump(mode="json"))},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    target = Served(url=f"http://127.0.0.1:{port}", port=port, log_path=log_path)
    try:
        wait_until_ready(process, target.url, log_path)
        yield target
    finally:
        stop(process)


def fragment_bomb(fragments: int, leaf: str, salt: int = 0) -> str:
    """Each fragment spreads the one before twice: 2^fragments fields once expanded."""
    lines = [f"query Q{salt} {{ ...F{fragments} }}", f"fragment F0 on Query {{ {leaf} }}"]
    lines += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, fragments + 1)]
    return "\n".join(lines)


def validation_failed(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["data"] is None, body
    assert [error["extensions"]["code"] for error in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"], body
    return body["errors"][0]["message"]


@pytest.mark.serial
async def test_a_fragment_bomb_is_refused_at_once_and_the_server_stays_responsive(served: Served):
    async with httpx.AsyncClient(base_url=served.url, timeout=5) as client:
        # Aliases expand with the fragments: 2^40 of them, refused by the alias limit, measured
        # without expanding. Each document differs, so the validation cache does not answer.
        timings = []
        for salt in range(3):
            began = time.monotonic()
            response = await client.post("/graphql", json={"query": fragment_bomb(40, "a: __typename", salt)})
            timings.append(time.monotonic() - began)
            assert "aliases" in validation_failed(response).lower()
        # Expanded, 2^40 aliases would take hours: a second is ample on a loaded machine.
        assert min(timings) < 1.0, timings

        # Without aliases the document is valid and cheap to run; /health/live sent alongside
        # is answered at once.
        async def live() -> float:
            await asyncio.sleep(0.01)
            began = time.monotonic()
            assert (await client.get("/health/live")).status_code == 200
            return time.monotonic() - began

        bomb = client.post("/graphql", json={"query": fragment_bomb(40, "__typename", 9)})
        response, live_seconds = await asyncio.gather(bomb, live())
        assert response.status_code == 200, response.text
        assert response.json() == {"data": {"__typename": "Query"}}
        assert live_seconds < 0.5
    served.assert_quiet()


async def test_an_unknown_fragment_is_a_validation_error(served: Served):
    async with httpx.AsyncClient(base_url=served.url, timeout=5) as client:
        message = validation_failed(await client.post("/graphql", json={"query": "{ ...Nope }"}))
        assert message == "Unknown fragment 'Nope'."
        nested = "{ me { ...Nope } }"
        assert "Nope" in validation_failed(await client.post("/graphql", json={"query": nested}))
    served.assert_quiet()


async def test_deeply_nested_json_is_a_bad_request(served: Served):
    levels = 1000
    body = '{"query": "{ __typename }", "variables": {"a": ' + "[" * levels + "]" * levels + "}}"
    async with httpx.AsyncClient(base_url=served.url, timeout=5) as client:
        response = await client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    served.assert_quiet()


def raw_request(port: int, declared: int, body: bytes) -> socket.socket:
    """A connection that sent the head of a POST /graphql declaring `declared` bytes, then `body`."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    head = (
        "POST /graphql HTTP/1.1\r\nHost: authql.test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\nConnection: close\r\n\r\n"
    )
    connection.sendall(head.encode() + body)
    return connection


def read_all(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 5 s pass)."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


async def test_a_client_that_hangs_up_mid_body_leaves_no_traceback(served: Served):
    for _ in range(3):
        connection = raw_request(served.port, 1000, b'{"query": "{ __typ')
        await asyncio.sleep(0.05)  # the app is now waiting for the rest of the body
        connection.close()
    await asyncio.sleep(0.5)  # let the server notice the hang-ups
    async with httpx.AsyncClient(base_url=served.url, timeout=5) as client:
        assert (await client.get("/health/live")).status_code == 200
    served.assert_quiet()


async def test_a_stalled_body_times_out_with_408_and_the_connection_closes(served: Served):
    connection = raw_request(served.port, 60_000, b'{"query":')
    began = time.monotonic()
    try:
        answer = await asyncio.to_thread(read_all, connection)
    finally:
        connection.close()
    elapsed = time.monotonic() - began
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert json.loads(payload)["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert BODY_READ_TIMEOUT - 0.2 < elapsed < BODY_READ_TIMEOUT + 2
    served.assert_quiet()


async def test_a_slow_but_steady_body_within_the_timeout_is_served(served: Served):
    body = json.dumps({"query": "{ __typename }"}).encode()
    connection = raw_request(served.port, len(body), body[:5])
    try:
        for start in range(5, len(body), 5):
            await asyncio.sleep(0.05)
            connection.sendall(body[start : start + 5])
        answer = await asyncio.to_thread(read_all, connection)
    finally:
        connection.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert b'"__typename":"Query"' in answer


async def test_a_request_head_over_16_kib_is_refused(served: Served):
    """The head bound of `python server.py` holds with the fast path installed: uvloop yes,
    but not httptools, which uvicorn would pick by itself and which bounds no head. (h11
    bounds a head still arriving: an unfinished 20 KiB, then the rest.)"""
    connection = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    padding = "a" * (20 * 1024)
    try:
        connection.sendall(f"GET /health/live HTTP/1.1\r\nHost: authql.test\r\nX-Pad: {padding}".encode())
        await asyncio.sleep(0.5)
        try:
            connection.sendall(b"\r\n\r\n")
            answer = read_all(connection)
        except (ConnectionResetError, BrokenPipeError):
            answer = b""
    finally:
        connection.close()
    assert not answer.startswith(b"HTTP/1.1 200"), answer[:200]


async def test_a_whole_head_over_16_kib_is_refused_by_python_server_py_too(served: Served):
    # h11 (bounded here as `python server.py` bounds it) refuses a head over 16 KiB that is
    # still unfinished when a read ends (400); one that arrives whole in one read reaches the
    # app, which counts it (431). Which of the two the socket delivers is up to the kernel:
    # either way the head is refused and the connection closed.
    head = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 40_000 + b"\r\n\r\n"
    assert_head_refused(*await exchange(served.port, head))
