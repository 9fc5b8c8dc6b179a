"""The admin client ariadne-codegen generates from admin.schema.graphql
(clients/python/authql_admin_client) runs an operator's tasks against a real app, and the
committed package is what the generator makes of today's admin schema and operations."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest
from admin import ADMIN_KEY
from authql_admin_client import (
    AccountStatus,
    AdminScope,
    AuthqlAdminClient,
    CreateAdminKeyCreateAdminKeyAdminKeyCreated,
    CreateUserInput,
    DisableUserDisableUserUserResult,
    UpdateUserInput,
    UpdateUserUpdateUserUserResult,
    UserFilter,
)
from authql_admin_client.exceptions import GraphQLClientGraphQLMultiError
from conftest import serve
from conftest import test_settings as settings_with
from drift import differences
from flows import new_email
from test_python_client import outer_environment, render, uv

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "clients" / "python"
PACKAGE = GENERATOR / "authql_admin_client"


@pytest.mark.subprocess
def test_the_committed_admin_client_is_what_the_generator_makes_now(tmp_path):
    with (GENERATOR / "admin-codegen.toml").open("rb") as file:
        config = tomllib.load(file)["tool"]["ariadne-codegen"]
    config["target_package_path"] = str(tmp_path)
    lines = ["[tool.ariadne-codegen]"]
    tables = {name: value for name, value in config.items() if isinstance(value, dict)}
    lines += [f"{name} = {render(value)}" for name, value in config.items() if name not in tables]
    for name, table in tables.items():
        for key, value in table.items():
            lines.append(f"[tool.ariadne-codegen.{name}.{key}]")
            lines += [f"{field} = {render(item)}" for field, item in value.items()]
    (tmp_path / "codegen.toml").write_text("\n".join(lines) + "\n")
    run = subprocess.run(
        [
            *uv(),
            "run",
            "--locked",
            "--directory",
            str(GENERATOR),
            "ariadne-codegen",
            "--config",
            str(tmp_path / "codegen.toml"),
        ],
        env=outer_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    drift = differences(PACKAGE, tmp_path / "authql_admin_client")
    assert not drift, (
        f"clients/python/authql_admin_client is stale ({', '.join(drift)}); regenerate it with "
        "`./run --directory clients/python ariadne-codegen --config admin-codegen.toml`"
    )


async def test_an_operator_script_through_the_generated_admin_client(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, admin_api_key=ADMIN_KEY)) as http:
        url = "http://authql.test/admin/graphql"
        # The generated client sends its http_client's headers: the key goes there.
        http.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        admin = AuthqlAdminClient(url=url, http_client=http)
        email = new_email()
        created = await admin.create_user(
            input=CreateUserInput(
                email=email, first_name="Ada", last_name="Lovelace", roles=["staff"], invite=False
            )
        )
        user = created.user  # type: ignore[union-attr]
        assert (user.email, user.status, user.roles) == (email, AccountStatus.ACTIVE, ["staff"])
        updated = await admin.update_user(id=user.id, input=UpdateUserInput(app_metadata={"plan": "pro"}))
        assert isinstance(updated, UpdateUserUpdateUserUserResult)
        assert updated.user.app_metadata == {"plan": "pro"}
        disabled = await admin.disable_user(id=user.id, reason="test")
        assert isinstance(disabled, DisableUserDisableUserUserResult)
        assert disabled.user.status == AccountStatus.DISABLED
        page = await admin.users(
            first=10, filter_=UserFilter(email_prefix=email, status=AccountStatus.DISABLED)
        )
        assert [edge.node.id for edge in page.edges] == [user.id]
        events = await admin.audit_events(user_id=user.id, first=10)
        assert [edge.node.action for edge in events.edges][:2] == ["user_disabled", "user_updated"]
        made = await admin.create_admin_key(name="reader", scopes=[AdminScope.USERS_READ])
        assert isinstance(made, CreateAdminKeyCreateAdminKeyAdminKeyCreated)
        http.headers["Authorization"] = f"Bearer {made.secret}"
        reader = AuthqlAdminClient(url=url, http_client=http)
        assert (await reader.user(id=user.id)).email == email  # type: ignore[union-attr]
        with pytest.raises(GraphQLClientGraphQLMultiError) as refused:
            await reader.enable_user(id=user.id)
        assert refused.value.errors[0].extensions == {"code": "FORBIDDEN", "scope": "users:write"}
