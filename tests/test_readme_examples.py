"""The README's GraphQL examples run as written: every operation validates against the
live schema, and walked in a person's order over HTTP, with only the placeholders filled
(`"…"` from what earlier answers selected, the email made fresh, the code read from the
mail), each answers the success its comment promises. A step whose example does not select
what a later step needs (login's refreshToken, say) fails the walk.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from conftest import end_resend_cooldown, resent_code_promoted
from flows import gql
from graphql import (
    ArgumentNode,
    DocumentNode,
    OperationDefinitionNode,
    StringValueNode,
    parse,
    print_ast,
    validate,
    visit,
)
from graphql.language import Visitor

from schema.root import build_schema

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "…"


def readme_operations() -> dict[str, OperationDefinitionNode]:
    """Each operation of the README's ```graphql blocks, by its root field's name."""
    readme = (ROOT / "README.md").read_text()
    operations: dict[str, OperationDefinitionNode] = {}
    for block in re.findall(r"```graphql\n(.*?)```", readme, re.S):
        for definition in parse(block).definitions:
            assert isinstance(definition, OperationDefinitionNode)
            field = definition.selection_set.selections[0].name.value  # type: ignore[attr-defined]
            assert field not in operations, f"two README examples of {field}"
            operations[field] = definition
    return operations


def test_every_readme_example_validates_against_the_live_schema():
    operations = readme_operations()
    assert len(operations) >= 17
    schema = build_schema()._schema
    for field, operation in operations.items():
        errors = validate(schema, DocumentNode(definitions=(operation,)))
        assert errors == [], (field, [error.message for error in errors])


class Fill(Visitor):
    """Fills string arguments: a placeholder from `values`, and the example email and code."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__()
        self.values = values

    def leave_argument(self, node: ArgumentNode, *_args: Any) -> ArgumentNode | None:
        name = node.name.value
        if isinstance(node.value, StringValueNode) and (
            node.value.value == PLACEHOLDER or name in {"email", "code"}
        ):
            assert name in self.values, f"the walk has no value for {name} yet"
            return ArgumentNode(name=node.name, value=StringValueNode(value=self.values[name]))
        return None


async def test_readme_examples_walk_a_person_through_every_flow(client, mailbox, backend_urls):
    operations = readme_operations()
    email = f"ada-{secrets.token_hex(6)}@example.com"
    values: dict[str, str] = {"email": email}
    token: str | None = None

    async def run(field: str, expect: str | None = None) -> Any:
        document = print_ast(visit(DocumentNode(definitions=(operations[field],)), Fill(values)))
        body = await gql(client, document, token=token)
        assert not body.get("errors"), (field, body)
        answer = body["data"][field]
        if expect is not None:
            assert answer["__typename"] == expect, (field, answer)
        return answer

    started = await run("startRegistration", "RegistrationStarted")
    values["registrationId"] = started["registrationId"]
    await end_resend_cooldown(backend_urls, "reg", values["registrationId"])
    await run("resendRegistrationCode", "RegistrationCodeSent")
    await resent_code_promoted(backend_urls, "reg", values["registrationId"])
    values["code"] = await mailbox.code_for(email, count=2)
    values["registrationToken"] = (await run("verifyRegistrationCode", "RegistrationVerified"))[
        "registrationToken"
    ]
    await run("setRegistrationPassword", "RegistrationPasswordSet")
    registered = await run("completeRegistration", "AuthPayload")
    assert registered["user"]["email"] == email

    signed_in = await run("login", "AuthPayload")
    token = signed_in["accessToken"]
    values["refreshToken"] = signed_in["refreshToken"]
    assert (await run("me"))["email"] == email
    assert (await run("updateProfile", "ProfileUpdated"))["user"]["lastName"] == "King"

    refreshed = await run("refreshTokens", "AuthPayload")
    token = refreshed["accessToken"]
    assert refreshed["sessionId"] == signed_in["sessionId"]
    listed = await run("sessions")
    others = [session["id"] for session in listed if not session["current"]]
    assert len(listed) == 2 and len(others) == 1  # the registration's session and the login's
    values["id"] = others[0]
    assert (await run("revokeSession", "SessionRevoked"))["id"] == others[0]
    assert (await run("logout"))["revokedSessions"] == 0  # OTHERS: the other one is already gone

    values["currentPassword"] = "correct horse battery"
    values["newPassword"] = "a brand new passphrase"
    changed = await run("changePassword", "AuthPayload")
    token = changed["accessToken"]

    token = None
    mails_before = len(mailbox.received(email))
    values["resetId"] = (await run("startPasswordReset", "PasswordResetStarted"))["resetId"]
    await end_resend_cooldown(backend_urls, "reset", values["resetId"])
    await run("resendPasswordResetCode", "PasswordResetCodeSent")
    await resent_code_promoted(backend_urls, "reset", values["resetId"])
    values["code"] = await mailbox.code_for(email, count=mails_before + 2)
    values["newPassword"] = "yet another passphrase"
    token = (await run("completePasswordReset", "AuthPayload"))["accessToken"]

    values["password"] = values["newPassword"]
    await run("deleteAccount", "AccountDeleted")
