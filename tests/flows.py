"""The GraphQL operations a client sends, and the registration walk a person does."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from conftest import Mailbox

PASSWORD = "correct horse battery staple"
PROFILE = {"firstName": "Ada", "lastName": "Lovelace", "phone": "+44 20 7946 0018"}

PROBLEM = "... on Problem { __typename message }"
RATE = "... on RateLimited { retryAfterSeconds }"
INVALID = "... on InvalidInput { fields { field message } }"
USER_FIELDS = "id email firstName lastName phone createdAt updatedAt"
AUTH = f"""... on AuthPayload {{ __typename accessToken tokenType expiresIn
  refreshToken refreshExpiresIn sessionId user {{ {USER_FIELDS} }} }}"""

START = f"""mutation($email: String!) {{ startRegistration(email: $email) {{
  __typename ... on RegistrationStarted {{ registrationId expiresAt resendAvailableAt codeLength }}
  {PROBLEM} {RATE} {INVALID} }} }}"""
RESEND = f"""mutation($id: ID!) {{ resendRegistrationCode(registrationId: $id) {{
  __typename ... on RegistrationCodeSent {{ expiresAt resendAvailableAt }} {PROBLEM} {RATE} }} }}"""
VERIFY = f"""mutation($id: ID!, $code: String!) {{ verifyRegistrationCode(registrationId: $id, code: $code) {{
  __typename ... on RegistrationVerified {{ registrationToken expiresAt }} {PROBLEM} {RATE}
  ... on InvalidCode {{ attemptsLeft }} }} }}"""
SET_PASSWORD = f"""mutation($token: String!, $password: String!) {{
  setRegistrationPassword(registrationToken: $token, password: $password) {{
  __typename ... on RegistrationPasswordSet {{ expiresAt }} {PROBLEM} {RATE}
  ... on WeakPassword {{ reasons }} }} }}"""
COMPLETE = f"""mutation($token: String!, $profile: ProfileInput!) {{
  completeRegistration(registrationToken: $token, profile: $profile) {{
  __typename {AUTH} {PROBLEM} {INVALID} }} }}"""
LOGIN = f"""mutation($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ __typename {AUTH} {PROBLEM} {RATE} }} }}"""
ME = f"query {{ me {{ {USER_FIELDS} }} }}"
UPDATE_PROFILE = f"""mutation($input: ProfileUpdateInput!) {{ updateProfile(input: $input) {{
  __typename ... on ProfileUpdated {{ user {{ {USER_FIELDS} }} }} {PROBLEM} {INVALID} }} }}"""


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    expect_status: int = 200,
) -> dict[str, Any]:
    """POST one operation; the whole JSON body (data and errors)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == expect_status, response.text
    return response.json()


async def data(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> Any:
    """The single root field's value, asserting the call raised no top-level error."""
    body = await gql(client, query, variables, token)
    assert not body.get("errors"), body
    return next(iter(body["data"].values()))


def new_email() -> str:
    return f"user-{secrets.token_hex(6)}@example.com"


async def start(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    result = await data(client, START, {"email": email})
    assert result["__typename"] == "RegistrationStarted", result
    return result


async def verified(client: httpx.AsyncClient, mailbox: Mailbox, email: str) -> str:
    """Steps 1-2 done: the registration token."""
    started = await start(client, email)
    code = await mailbox.code_for(email)
    result = await data(client, VERIFY, {"id": started["registrationId"], "code": code})
    assert result["__typename"] == "RegistrationVerified", result
    return result["registrationToken"]


async def password_set(
    client: httpx.AsyncClient, mailbox: Mailbox, email: str, password: str = PASSWORD
) -> str:
    """Steps 1-3 done: the registration token."""
    token = await verified(client, mailbox, email)
    result = await data(client, SET_PASSWORD, {"token": token, "password": password})
    assert result["__typename"] == "RegistrationPasswordSet", result
    return token


async def register(
    client: httpx.AsyncClient, mailbox: Mailbox, email: str | None = None, password: str = PASSWORD
) -> dict[str, Any]:
    """All four steps: the AuthPayload."""
    email = email or new_email()
    token = await password_set(client, mailbox, email, password)
    result = await data(client, COMPLETE, {"token": token, "profile": PROFILE})
    assert result["__typename"] == "AuthPayload", result
    return result


def wrong_codes(real: str, count: int) -> list[str]:
    """`count` distinct codes of the same length, none of them `real`."""
    codes = [str(n).zfill(len(real)) for n in range(count + 1)]
    return [code for code in codes if code != real][:count]
