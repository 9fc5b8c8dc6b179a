"""The user journeys the bench times, over HTTP: authql's four-step registration (codes read
from an SMTP sink), its login, and fastapi-users' register + login, to seed a user and get a token."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import secrets
import threading
import time
from typing import Any

import httpx
from aiosmtpd.controller import Controller

PASSWORD = "bench correct horse battery staple"
PROFILE = {"firstName": "Bench", "lastName": "Mark", "phone": "+44 20 7946 0018"}
PROBLEM = "... on Problem { __typename message }"
START = f"""mutation($email: String!) {{ startRegistration(email: $email) {{ __typename
  ... on RegistrationStarted {{ registrationId }} {PROBLEM} }} }}"""
VERIFY = f"""mutation($id: ID!, $code: String!) {{ verifyRegistrationCode(registrationId: $id, code: $code) {{
  __typename ... on RegistrationVerified {{ registrationToken }} {PROBLEM} }} }}"""
SET_PASSWORD = f"""mutation($token: String!, $password: String!) {{
  setRegistrationPassword(registrationToken: $token, password: $password) {{ __typename {PROBLEM} }} }}"""
COMPLETE = f"""mutation($token: String!, $profile: ProfileInput!) {{
  completeRegistration(registrationToken: $token, profile: $profile) {{ __typename
  ... on AuthPayload {{ accessToken }} {PROBLEM} }} }}"""
LOGIN = f"""mutation($email: String!, $password: String!) {{ login(email: $email, password: $password) {{
  __typename ... on AuthPayload {{ accessToken }} {PROBLEM} }} }}"""
ME = "{ me { id email } }"
CODE = re.compile(r"^\s*(\d{6,10})\s*$", re.MULTILINE)


class CodeSink:
    """An SMTP server keeping the last code mailed to each address."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.codes: dict[str, str] = {}
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                body = message.get_body(preferencelist=("plain",))
                found = CODE.search(body.get_content()) if body is not None else None
                if found:
                    with sink._lock:
                        sink.codes[str(message["To"])] = found.group(1)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    async def code_for(self, address: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                code = self.codes.pop(address, None)
            if code:
                return code
            await asyncio.sleep(0.005)
        raise RuntimeError(f"no code mailed to {address} within {timeout:g}s")


async def field(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The one root field of a GraphQL answer; RuntimeError on a top-level error."""
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"authql answered {body['errors']}")
    return dict(next(iter(body["data"].values())))


async def call(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, token: str = ""
) -> dict[str, Any]:
    """The one root field of a GraphQL answer, signed in with `token` when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"authql answered {body['errors']}")
    return dict(next(iter(body["data"].values())))


def expect(result: dict[str, Any], typename: str) -> dict[str, Any]:
    if result.get("__typename") != typename:
        raise RuntimeError(f"expected {typename}, got {result}")
    return result


async def register(client: httpx.AsyncClient, sink: CodeSink, address: str) -> str:
    """authql's four steps for a new address; its access token."""
    started = expect(await field(client, START, {"email": address}), "RegistrationStarted")
    code = await sink.code_for(address)
    verified = expect(
        await field(client, VERIFY, {"id": started["registrationId"], "code": code}), "RegistrationVerified"
    )
    token = verified["registrationToken"]
    expect(
        await field(client, SET_PASSWORD, {"token": token, "password": PASSWORD}), "RegistrationPasswordSet"
    )
    completed = expect(await field(client, COMPLETE, {"token": token, "profile": PROFILE}), "AuthPayload")
    return str(completed["accessToken"])


def new_address() -> str:
    return f"bench-{secrets.token_hex(8)}@example.com"


async def registrations(
    base_url: str, sink: CodeSink, *, seconds: float, concurrency: int
) -> tuple[float, int]:
    """Completed registrations per second with `concurrency` people registering at once,
    and how many completed."""
    done = 0
    deadline = time.monotonic() + seconds

    async def person(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await register(client, sink, new_address())
            done += 1

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        await asyncio.gather(*(person(client) for _ in range(concurrency)))
    return done / (time.monotonic() - started), done


async def seed_fastapi_users(base_url: str) -> str:
    """Register a user with fastapi-users and log it in; its access token."""
    address = new_address()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        registered = await client.post("/auth/register", json={"email": address, "password": PASSWORD})
        registered.raise_for_status()
        login = await client.post("/auth/jwt/login", data={"username": address, "password": PASSWORD})
        login.raise_for_status()
        return str(login.json()["access_token"])
