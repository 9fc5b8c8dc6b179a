"""The admin API's operations and a helper to call /admin/graphql, for the admin tests."""

from __future__ import annotations

from typing import Any

import httpx

ADMIN_KEY = "admin-key-for-tests-" + "k" * 24

PROBLEM = "... on Problem { __typename message }"
INVALID = "... on InvalidInput { fields { field message } }"
ADMIN_USER = """id email firstName lastName phone status disabledUntil disabledReason roles appMetadata
  emailVerified signInMethods createdAt lastSignInAt"""
CREATE_USER = f"""mutation($input: CreateUserInput!) {{ createUser(input: $input) {{
  __typename ... on UserResult {{ user {{ {ADMIN_USER} }} }} {PROBLEM} {INVALID} }} }}"""
UPDATE_USER = f"""mutation($id: ID!, $input: UpdateUserInput!) {{ updateUser(id: $id, input: $input) {{
  __typename ... on UserResult {{ user {{ {ADMIN_USER} }} }} {PROBLEM} {INVALID} }} }}"""
DISABLE_USER = f"""mutation($id: ID!, $until: DateTime, $reason: String) {{
  disableUser(id: $id, until: $until, reason: $reason) {{
  __typename ... on UserResult {{ user {{ {ADMIN_USER} }} }} {PROBLEM} {INVALID} }} }}"""
ENABLE_USER = f"""mutation($id: ID!) {{ enableUser(id: $id) {{
  __typename ... on UserResult {{ user {{ {ADMIN_USER} }} }} {PROBLEM} }} }}"""
REVOKE_SESSIONS = f"""mutation($id: ID!) {{ revokeUserSessions(id: $id) {{
  __typename ... on SessionsRevoked {{ revokedSessions }} {PROBLEM} }} }}"""
RESET_TWO_FACTOR = f"""mutation($id: ID!) {{ resetTwoFactor(id: $id) {{
  __typename ... on UserResult {{ user {{ {ADMIN_USER} }} }} {PROBLEM} }} }}"""
DELETE_USER = f"""mutation($id: ID!) {{ deleteUser(id: $id) {{
  __typename ... on UserDeleted {{ id }} {PROBLEM} }} }}"""
USER_BY_ID = f"query($id: ID) {{ user(id: $id) {{ {ADMIN_USER} sessions {{ id ipAddress }} }} }}"
USER_BY_EMAIL = f"query($email: String) {{ user(email: $email) {{ {ADMIN_USER} }} }}"
USERS = """query($filter: UserFilter, $first: Int!, $after: String) {
  users(filter: $filter, first: $first, after: $after) {
  edges { cursor node { id email status roles } } pageInfo { hasNextPage endCursor } } }"""
AUDIT = """query($userId: ID, $action: String, $first: Int!, $after: String) {
  auditEvents(userId: $userId, action: $action, first: $first, after: $after) {
  edges { cursor node { id at action adminKeyId userId ipAddress details } }
  pageInfo { hasNextPage endCursor } } }"""
ADMIN_KEYS = "query { adminKeys { id name scopes createdAt lastUsedAt fromEnvironment } }"
CREATE_KEY = f"""mutation($name: String!, $scopes: [AdminScope!]!) {{
  createAdminKey(name: $name, scopes: $scopes) {{ __typename
  ... on AdminKeyCreated {{ secret key {{ id name scopes fromEnvironment }} }} {PROBLEM} {INVALID} }} }}"""
REVOKE_KEY = f"""mutation($id: ID!) {{ revokeAdminKey(id: $id) {{
  __typename ... on AdminKeyRevoked {{ id }} {PROBLEM} }} }}"""


async def admin_call(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    key: str | None = ADMIN_KEY,
    expect_status: int = 200,
) -> dict[str, Any]:
    """POST one operation to /admin/graphql with `key`; the whole JSON body."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = await client.post(
        "/admin/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == expect_status, response.text
    return response.json()


async def admin_data(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, key: str = ADMIN_KEY
) -> Any:
    """The single root field's value, asserting no top-level error."""
    body = await admin_call(client, query, variables, key)
    assert not body.get("errors"), body
    return next(iter(body["data"].values()))


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]
