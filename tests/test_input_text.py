"""Text that can never be valid: lone surrogates anywhere in a request, and names that
print as nothing. Each is refused with a clear answer before anything is counted."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from conftest import serve
from conftest import test_settings as settings_with
from flows import COMPLETE, LOGIN, PASSWORD, PROFILE, UPDATE_PROFILE, data, new_email, password_set, register

LONE = "\ud800"
NAME = "... on InvalidInput { fields { field message } }"

# Every mutation that takes a string, with the surrogate in one argument.
OPERATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "login email": (
        'mutation($v: String!) { login(email: $v, password: "whatever it is") { __typename } }',
        {"v": f"ada{LONE}@example.com"},
    ),
    "login password": (
        'mutation($v: String!) { login(email: "ada@example.com", password: $v) { __typename } }',
        {"v": f"pass{LONE}word"},
    ),
    "changePassword current": (
        'mutation($v: String!) { changePassword(currentPassword: $v, newPassword: "a brand new horse") '
        "{ __typename } }",
        {"v": LONE},
    ),
    "changePassword new": (
        f'mutation($v: String!) {{ changePassword(currentPassword: "{PASSWORD}", newPassword: $v) '
        "{ __typename } }",
        {"v": f"a brand new {LONE} horse"},
    ),
    "deleteAccount": ("mutation($v: String!) { deleteAccount(password: $v) { __typename } }", {"v": LONE}),
    "refreshTokens": (
        "mutation($v: String!) { refreshTokens(refreshToken: $v) { __typename } }",
        {"v": LONE},
    ),
    "verifyRegistrationCode": (
        'mutation($v: String!) { verifyRegistrationCode(registrationId: "abc", code: $v) { __typename } }',
        {"v": f"12345{LONE}"},
    ),
    "setRegistrationPassword": (
        'mutation($v: String!) { setRegistrationPassword(registrationToken: "abc", password: $v) '
        "{ __typename } }",
        {"v": f"a long {LONE} password"},
    ),
    "completeRegistration": (
        'mutation($v: String!) { completeRegistration(registrationToken: "abc", '
        'profile: { firstName: $v, lastName: "King" }) { __typename } }',
        {"v": f"Ada{LONE}"},
    ),
    "completePasswordReset": (
        'mutation($v: String!) { completePasswordReset(resetId: "abc", code: "123456", newPassword: $v) '
        "{ __typename } }",
        {"v": f"a long {LONE} password"},
    ),
    "startRegistration": (
        "mutation($v: String!) { startRegistration(email: $v) { __typename } }",
        {"v": f"ada{LONE}@example.com"},
    ),
    "startPasswordReset": (
        "mutation($v: String!) { startPasswordReset(email: $v) { __typename } }",
        {"v": f"ada{LONE}@example.com"},
    ),
    "updateProfile": (
        "mutation($v: String!) { updateProfile(input: { firstName: $v }) { __typename } }",
        {"v": f"Ada{LONE}"},
    ),
    "revokeSession": ("mutation($v: ID!) { revokeSession(id: $v) { __typename } }", {"v": LONE}),
    "in the query text": (f'mutation {{ deleteAccount(password: "{LONE}") {{ __typename }} }}', {}),
    "in a variable's name": ("query { me { id } }", {LONE: "x"}),
}


async def post_raw(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None
) -> httpx.Response:
    """POST with the JSON escaped to ASCII, as a client sending "\\ud800" does."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables})
    return await client.post("/graphql", content=body.encode("ascii"), headers=headers)


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_lone_surrogates_are_refused_as_bad_input(client, mailbox, operation):
    token = (await register(client, mailbox))["accessToken"]
    query, variables = OPERATIONS[operation]
    response = await post_raw(client, query, variables, token)
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "Unicode" in error["message"], body
    # Nothing happened to the account: the token still works.
    assert (await data(client, "query { me { email } }", token=token))["email"]


async def test_surrogate_logins_do_not_lock_the_account(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, login_lockout_threshold=5)) as client:
        email = new_email()
        await register(client, mailbox, email)
        for n in range(8):
            response = await post_raw(client, LOGIN, {"email": email, "password": f"guess {n} {LONE}"})
            assert response.status_code == 400, response.text
        assert (await data(client, LOGIN, {"email": email, "password": PASSWORD}))[
            "__typename"
        ] == "AuthPayload"


# ------------------------------------------------------------ names


INVISIBLE_NAMES = {
    "hangul filler": "\u3164",
    "halfwidth hangul filler": "\uffa0\uffa0",
    "braille blank": "\u2800\u2800",
    "combining marks alone": "\u0301\u0308",
    "line separator inside": "Ada\u2028Lovelace",
    "paragraph separator inside": "Ada\u2029Lovelace",
    "filler beside a letter": "A\u3164",
    "ideographic space only": "\u3000",
    "digits only": "1234",
}


@pytest.mark.parametrize("name", list(INVISIBLE_NAMES))
async def test_invisible_names_are_refused_at_registration(client, mailbox, name):
    email = new_email()
    token = await password_set(client, mailbox, email)
    profile = {**PROFILE, "firstName": INVISIBLE_NAMES[name], "lastName": INVISIBLE_NAMES[name]}
    result = await data(client, COMPLETE, {"token": token, "profile": profile})
    assert result["__typename"] == "InvalidInput", result
    assert {field["field"] for field in result["fields"]} == {"firstName", "lastName"}, result


@pytest.mark.parametrize("name", list(INVISIBLE_NAMES))
async def test_invisible_names_are_refused_by_update_profile(client, mailbox, name):
    token = (await register(client, mailbox))["accessToken"]
    result = await data(client, UPDATE_PROFILE, {"input": {"lastName": INVISIBLE_NAMES[name]}}, token)
    assert result["__typename"] == "InvalidInput", result
    assert [field["field"] for field in result["fields"]] == ["lastName"], result
    assert (await data(client, "query { me { lastName } }", token=token))["lastName"] == PROFILE["lastName"]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("José", "José"),
        ("Jose\u0301", "José"),  # decomposed accent: stored composed
        ("李", "李"),
        ("Ｋｉｎｇ", "King"),  # full-width letters: stored in their common form
        ("Mary Ann", "Mary Ann"),
        ("O'Brien-Smith", "O'Brien-Smith"),
        ("Ada\u00a0King", "Ada King"),  # no-break space: an ordinary space
    ],
)
async def test_real_names_in_any_script_are_kept(client, mailbox, typed, stored):
    token = (await register(client, mailbox))["accessToken"]
    result = await data(client, UPDATE_PROFILE, {"input": {"lastName": typed}}, token)
    assert result["__typename"] == "ProfileUpdated", result
    assert result["user"]["lastName"] == stored
