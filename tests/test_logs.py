"""The logs of a real `python server.py`, in both LOG_FORMATs: request ids (taken from a
trusted proxy only, answered in a header, on every line of the request, security events
included), JSON lines, access lines without query strings, and no secret anywhere but
the console mailer's own mail."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from flows import AUTH, COMPLETE, LOGIN, PASSWORD, PROFILE, SET_PASSWORD, START, VERIFY, data, new_email
from pymongo import MongoClient
from redis import Redis
from test_server_process import ServerProcess

from embedded import free_port
from logs import RULE, log_config

ROOT = Path(__file__).resolve().parent.parent
CHANGED_PASSWORD = "a brand new horse battery"
RESET_PASSWORD = "yet another stable battery"
WRONG_PASSWORD = "incorrect donkey battery paperclip"
URL_PASSWORD = "Url-Password-4815162342"  # unreserved characters: logged as is, not percent-encoded
REFRESH = f"mutation($token: String!) {{ refreshTokens(refreshToken: $token) {{ __typename {AUTH} }} }}"
CHANGE_PASSWORD = f"""mutation($current: String!, $new: String!) {{
  changePassword(currentPassword: $current, newPassword: $new) {{ __typename {AUTH} }} }}"""
START_RESET = """mutation($email: String!) { startPasswordReset(email: $email) {
  __typename ... on PasswordResetStarted { resetId } } }"""
COMPLETE_RESET = f"""mutation($id: ID!, $code: String!, $password: String!) {{
  completePasswordReset(resetId: $id, code: $code, newPassword: $password) {{ __typename {AUTH} }} }}"""
LOGOUT = "mutation { logout { revokedSessions } }"
# Cheap hashing: the flow hashes five passwords, and the defaults cost about a second each.
CHEAP_HASHING = {"ARGON2_TIME_COST": "2", "ARGON2_MEMORY_KIB": "19456", "ARGON2_PARALLELISM": "1"}
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
# In text logs, the console mailer's mail, printed between two rules below its line.
TEXT_MAIL = re.compile(rf"^{RULE}\n(To: .*?)\n{RULE}$", re.DOTALL | re.MULTILINE)


def json_records(log: str) -> list[dict[str, Any]]:
    """Every line of a JSON log, parsed: a line that is not a JSON object fails the test."""
    records = []
    for line in log.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        records.append(record)
    return records


def mails(log: str, log_format: str) -> list[str]:
    """What the console mailer printed, in order."""
    if log_format == "json":
        return [r["mail"] for r in json_records(log) if r["logger"] == "authql.mail.console"]
    return [match.group(1) for match in TEXT_MAIL.finditer(log)]


def without_mail(log: str, log_format: str) -> str:
    """The log less exactly the console mailer's mail bodies (its one allowed place for a code)."""
    if log_format == "json":
        kept = []
        for record in json_records(log):
            if record["logger"] == "authql.mail.console":
                record.pop("mail")
            kept.append(json.dumps(record))
        return "\n".join(kept)
    return TEXT_MAIL.sub("", log)


async def mailed_code(server: ServerProcess, log_format: str, email: str, count: int) -> str:
    """The code in the `count`th mail with a code to `email` (notices hold none)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        codes = [
            found.group(1)
            for mail in mails(server.log(), log_format)
            if mail.startswith(f"To: {email}\n")
            and (found := re.search(r"^\s*(\d{6})\s*$", mail, re.MULTILINE))
        ]
        if len(codes) >= count:
            return codes[count - 1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail {count} to {email}:\n{server.log()}")


def embedded_url(log: str, name: str) -> str:
    match = re.search(rf"embedded {name} at (\S+)", log)
    assert match, log
    return match.group(1)


def stored_secrets(server: ServerProcess, email: str) -> set[str]:
    """What the stores hold that must never be logged: the password hash, the sessions'
    refresh-token hashes, and every MAC or token of the code flows in Redis."""
    found: set[str] = set()
    with MongoClient(embedded_url(server.log(), "mongo")) as mongo:
        user = mongo["authql"]["users"].find_one({"email": email})
        if user is not None:
            found.add(user["password_hash"])
            for session in mongo["authql"]["sessions"].find({"user_id": str(user["_id"])}):
                found.update(
                    str(session[field])
                    for field in ("refresh_hash", "previous_hash", "sealed_current")
                    if session.get(field)
                )
    with Redis.from_url(embedded_url(server.log(), "redis")) as redis:
        for key in redis.scan_iter(count=1000):
            if redis.type(key) == b"hash":
                for field, value in redis.hgetall(key).items():
                    if re.search(rb"mac|hash|token", field) and len(value) >= 16:
                        found.add(value.decode())
    return found


async def full_flow(server: ServerProcess, log_format: str, client: httpx.AsyncClient) -> dict[str, str]:
    """Register, log in (once wrongly), refresh, change the password, reset it, log out,
    and send a password in a URL; every secret this produced, by name."""
    email = new_email()
    found: dict[str, str] = {
        "password": PASSWORD,
        "changed password": CHANGED_PASSWORD,
        "reset password": RESET_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "password in a URL": URL_PASSWORD,
    }
    started = await data(client, START, {"email": email})
    found["registrationId"] = started["registrationId"]
    found["registration code"] = await mailed_code(server, log_format, email, 1)
    verified = await data(
        client, VERIFY, {"id": started["registrationId"], "code": found["registration code"]}
    )
    found["registrationToken"] = verified["registrationToken"]
    stored = stored_secrets(server, email)
    await data(client, SET_PASSWORD, {"token": verified["registrationToken"], "password": PASSWORD})
    completed = await data(client, COMPLETE, {"token": verified["registrationToken"], "profile": PROFILE})
    login = await data(client, LOGIN, {"email": email, "password": PASSWORD})
    wrong = await data(client, LOGIN, {"email": email, "password": WRONG_PASSWORD})
    assert wrong["__typename"] == "InvalidCredentials"
    stored |= stored_secrets(server, email)
    refreshed = await data(client, REFRESH, {"token": login["refreshToken"]})
    changed = await data(
        client,
        CHANGE_PASSWORD,
        {"current": PASSWORD, "new": CHANGED_PASSWORD},
        token=refreshed["accessToken"],
    )
    assert changed["__typename"] == "AuthPayload", changed
    stored |= stored_secrets(server, email)
    reset = await data(client, START_RESET, {"email": email})
    found["resetId"] = reset["resetId"]
    found["reset code"] = await mailed_code(server, log_format, email, 2)
    stored |= stored_secrets(server, email)
    completed_reset = await data(
        client,
        COMPLETE_RESET,
        {"id": reset["resetId"], "code": found["reset code"], "password": RESET_PASSWORD},
    )
    assert completed_reset["__typename"] == "AuthPayload", completed_reset
    stored |= stored_secrets(server, email)
    logout = await data(client, LOGOUT, token=completed_reset["accessToken"])
    assert logout == {"revokedSessions": 1}
    # A query string is no place for a password, but a client may put one there: the access
    # log must not keep it (GET is for queries; Strawberry refuses this mutation).
    leaked = f'mutation {{ login(email: "{email}", password: "{URL_PASSWORD}") {{ __typename }} }}'
    response = await client.get("/graphql", params={"query": leaked})
    assert response.status_code >= 400
    for name, payload in {
        "registration": completed,
        "login": login,
        "refresh": refreshed,
        "password change": changed,
        "reset": completed_reset,
    }.items():
        found[f"{name} access token"] = payload["accessToken"]
        found[f"{name} refresh token"] = payload["refreshToken"]
    for n, value in enumerate(sorted(stored)):
        found[f"stored hash or MAC {n}"] = value
    assert any(value.startswith("nfkc:$argon2") for value in stored), stored  # not vacuous
    return found


def assert_no_secret(log: str, log_format: str, secrets: dict[str, str], mail_count: int = 3) -> None:
    """Registration, the password change's notice and reset sent `mail_count` mails:
    exactly what the scan leaves out."""
    assert len(mails(log, log_format)) == mail_count, log
    scanned = without_mail(log, log_format)
    for name, secret in secrets.items():
        assert secret not in scanned, f"the {name} is in the {log_format} log:\n{scanned}"


@pytest.mark.subprocess
async def test_text_logs_carry_generated_request_ids_and_no_secret(tmp_path: Path) -> None:
    """Text is the default. No trusted proxy: a client's own X-Request-ID is not believed."""
    server = ServerProcess(tmp_path / "var", free_port(), TRUSTED_PROXIES="", **CHEAP_HASHING)
    try:
        await server.wait_ready()
        async with httpx.AsyncClient(base_url=server.url) as client:
            secrets = await full_flow(server, "text", client)
            forged = await client.post(
                "/graphql",
                json={"query": LOGIN, "variables": {"email": new_email(), "password": WRONG_PASSWORD}},
                headers={"X-Request-ID": "forged-by-the-client"},
            )
            request_id = forged.headers["x-request-id"]
            assert GENERATED_ID.fullmatch(request_id), request_id
        server.interrupt()
    finally:
        server.kill()

    log = server.log()
    assert_no_secret(log, "text", secrets)
    assert "forged-by-the-client" not in log
    lines = [line for line in log.splitlines() if f"[{request_id}]" in line]
    access = [line for line in lines if " uvicorn.access " in line]
    assert len(access) == 1 and '"POST /graphql HTTP/1.1" 200' in access[0], lines
    # The security event (its JSON is the whole line) names the request too.
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert {"event": "login_failed", "request_id": request_id}.items() <= next(
        event for event in events if event.get("request_id") == request_id
    ).items(), events
    assert not [line for line in log.splitlines() if " uvicorn.access " in line and "?" in line]


@pytest.mark.subprocess
async def test_json_logs_are_one_object_per_line_with_proxy_request_ids_and_no_secret(tmp_path: Path) -> None:
    """LOG_FORMAT=json, behind a trusted proxy (this test's loopback client)."""
    server = ServerProcess(
        tmp_path / "var", free_port(), LOG_FORMAT="json", TRUSTED_PROXIES="127.0.0.1/32", **CHEAP_HASHING
    )
    try:
        await server.wait_ready()
        async with httpx.AsyncClient(base_url=server.url) as client:
            secrets = await full_flow(server, "json", client)
            email = new_email()
            proxied = await client.post(
                "/graphql",
                json={"query": START, "variables": {"email": email}},
                headers={"X-Request-ID": "lb-7f3a:9c21"},
            )
            refused = await client.get(
                "/health/live", headers={"X-Request-ID": "not an id, it has spaces and is too long" * 4}
            )
        server.interrupt()
    finally:
        server.kill()

    log = server.log()
    assert_no_secret(log, "json", secrets, mail_count=4)  # also checks that every line is a JSON object
    records = json_records(log)
    assert all({"time", "level", "logger", "message", "request_id"} <= record.keys() for record in records)
    assert proxied.headers["x-request-id"] == "lb-7f3a:9c21"
    of_request = [record for record in records if record["request_id"] == "lb-7f3a:9c21"]
    by_logger = {record["logger"]: record for record in of_request}
    access = by_logger["uvicorn.access"]
    assert (access["method"], access["path"], access["status"]) == ("POST", "/graphql", 200)
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert by_logger["authql.security"]["event"] == "registration_started"
    # The console mailer's mail is one record; its body is the `mail` field, and only there.
    assert by_logger["authql.mail.console"]["mail"].startswith(f"To: {email}\n")
    # An id that is not plausible is replaced, not logged.
    replaced = refused.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(replaced) and "spaces" not in log
    accesses = [record for record in records if record["logger"] == "uvicorn.access"]
    assert [record["path"] for record in accesses if record["request_id"] == replaced] == ["/health/live"]
    assert all("?" not in record["path"] and "?" not in record["message"] for record in accesses)
    assert any(record["method"] == "GET" and record["path"] == "/graphql" for record in accesses)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_shipped_log_configs_are_log_format_configs(log_format: str) -> None:
    """`uvicorn server:app --log-config log-config/<format>.json` gives python server.py's logs."""
    shipped = json.loads((ROOT / "log-config" / f"{log_format}.json").read_text())
    assert shipped == log_config(log_format)
