"""The Python client ariadne-codegen generates (clients/python/authql_client) drives a whole
account's life against a real server, and the committed package is what the generator makes
of today's schema and operations."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path

import pytest
from authql_client import (
    AuthqlClient,
    ChangePasswordChangePasswordAuthPayload,
    CompletePasswordResetCompletePasswordResetAuthPayload,
    CompleteRegistrationCompleteRegistrationAuthPayload,
    DeleteAccountDeleteAccountAccountDeleted,
    DeleteAccountDeleteAccountInvalidCredentials,
    LoginLoginAuthPayload,
    LoginLoginInvalidCredentials,
    LogoutScope,
    ProfileInput,
    ProfileUpdateInput,
    RefreshTokensRefreshTokensAuthPayload,
    RefreshTokensRefreshTokensInvalidRefreshToken,
    ResendRegistrationCodeResendRegistrationCodeRateLimited,
    RevokeSessionRevokeSessionNotFound,
    RevokeSessionRevokeSessionSessionRevoked,
    SetRegistrationPasswordSetRegistrationPasswordRegistrationPasswordSet,
    SetRegistrationPasswordSetRegistrationPasswordWeakPassword,
    StartPasswordResetStartPasswordResetPasswordResetStarted,
    StartRegistrationStartRegistrationInvalidInput,
    StartRegistrationStartRegistrationRegistrationStarted,
    UpdateProfileUpdateProfileProfileUpdated,
    VerifyRegistrationCodeVerifyRegistrationCodeInvalidCode,
    VerifyRegistrationCodeVerifyRegistrationCodeRegistrationVerified,
)
from authql_client.exceptions import GraphQLClientGraphQLMultiError
from conftest import test_settings as settings_for
from drift import differences
from flows import PASSWORD, new_email
from served import served

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "clients" / "python"
PACKAGE = GENERATOR / "authql_client"
NEW_PASSWORD = "a brand new passphrase for ada"
RESET_PASSWORD = "the password after the reset"


def uv() -> list[str]:
    """How to call uv: the binary `uv run` names in $UV, else the one on PATH, else `python3 -m uv`."""
    if os.environ.get("UV"):
        return [os.environ["UV"]]
    if shutil.which("uv"):
        return [shutil.which("uv") or "uv"]
    return [shutil.which("python3") or sys.executable, "-m", "uv"]


def outer_environment() -> dict[str, str]:
    """This environment without the test's virtualenv, so a nested `uv run` uses its own project's."""
    return {key: value for key, value in os.environ.items() if key not in {"VIRTUAL_ENV", "UV_PROJECT"}}


def test_the_committed_python_client_is_what_the_generator_makes_now(tmp_path):
    with (GENERATOR / "pyproject.toml").open("rb") as file:
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
    drift = differences(PACKAGE, tmp_path / "authql_client")
    assert not drift, (
        f"clients/python/authql_client is stale ({', '.join(drift)}); regenerate it with "
        "`./run --directory clients/python ariadne-codegen`"
    )


def render(value: object) -> str:
    """A TOML value (strings, booleans and lists of strings are all the config holds)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(render(item) for item in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


@pytest.fixture
async def server(backend_urls, mailbox, tmp_path):
    async with served(settings_for(backend_urls, mailbox), tmp_path / "server.log") as url:
        yield url + "/graphql"


def signed_in(url: str, access_token: str) -> AuthqlClient:
    return AuthqlClient(url=url, headers={"Authorization": f"Bearer {access_token}"})


async def test_a_whole_account_life_through_the_generated_python_client(server, mailbox):
    email = new_email()
    async with AuthqlClient(url=server) as anonymous:
        # 1. The email; a bad one is an InvalidInput member naming the field.
        refused = await anonymous.start_registration(email="not an address")
        assert isinstance(refused, StartRegistrationStartRegistrationInvalidInput)
        assert [problem.field for problem in refused.fields] == ["email"]
        started = await anonymous.start_registration(email=email)
        assert isinstance(started, StartRegistrationStartRegistrationRegistrationStarted)
        assert aware(started.expires_at) and started.code_length == 6

        # A resend inside the cooldown is a RateLimited member with its wait.
        too_soon = await anonymous.resend_registration_code(registration_id=started.registration_id)
        assert isinstance(too_soon, ResendRegistrationCodeResendRegistrationCodeRateLimited)
        assert too_soon.retry_after_seconds > 0 and too_soon.message

        # 2. The emailed code (a wrong one first: InvalidCode with the guesses left).
        code = await mailbox.code_for(email)
        wrong = "000000" if code != "000000" else "111111"
        missed = await anonymous.verify_registration_code(registration_id=started.registration_id, code=wrong)
        assert isinstance(missed, VerifyRegistrationCodeVerifyRegistrationCodeInvalidCode)
        assert missed.attempts_left == 4
        verified = await anonymous.verify_registration_code(
            registration_id=started.registration_id, code=code
        )
        assert isinstance(verified, VerifyRegistrationCodeVerifyRegistrationCodeRegistrationVerified)

        # 3. The password (a weak one first: WeakPassword with its reasons).
        weak = await anonymous.set_registration_password(
            registration_token=verified.registration_token, password="password"
        )
        assert isinstance(weak, SetRegistrationPasswordSetRegistrationPasswordWeakPassword)
        assert weak.reasons
        password_set = await anonymous.set_registration_password(
            registration_token=verified.registration_token, password=PASSWORD
        )
        assert isinstance(password_set, SetRegistrationPasswordSetRegistrationPasswordRegistrationPasswordSet)

        # 4. The profile: signed in.
        registered = await anonymous.complete_registration(
            registration_token=verified.registration_token,
            profile=ProfileInput(firstName="Ada", lastName="Lovelace", phone="+44 20 7946 0018"),
        )
        assert isinstance(registered, CompleteRegistrationCompleteRegistrationAuthPayload)
        assert registered.user.email == email and aware(registered.user.created_at)

        # Login: a wrong password is a Problem member, the right one a second session.
        bad_login = await anonymous.login(email=email, password="not the password at all")
        assert isinstance(bad_login, LoginLoginInvalidCredentials) and bad_login.message
        login = await anonymous.login(email=email, password=PASSWORD)
        assert isinstance(login, LoginLoginAuthPayload)
        assert login.token_type == "Bearer" and login.session_id != registered.session_id

    async with signed_in(server, login.access_token) as ada:
        me = await ada.me()
        assert me.email == email and me.phone == "+442079460018"
        assert isinstance(me.created_at, datetime) and aware(me.created_at)
        assert me.created_at == registered.user.created_at

        updated = await ada.update_profile(input=ProfileUpdateInput(lastName="King", phone=""))
        assert isinstance(updated, UpdateProfileUpdateProfileProfileUpdated)
        assert (updated.user.last_name, updated.user.phone) == ("King", None)
        assert aware(updated.user.updated_at) and updated.user.updated_at >= me.updated_at

        sessions = await ada.sessions()
        assert {session.id for session in sessions} == {login.session_id, registered.session_id}
        assert [session.current for session in sessions if session.id == login.session_id] == [True]
        assert all(aware(session.created_at) and aware(session.expires_at) for session in sessions)

        revoked = await ada.revoke_session(id=registered.session_id)
        assert isinstance(revoked, RevokeSessionRevokeSessionSessionRevoked)
        assert revoked.id == registered.session_id
        again = await ada.revoke_session(id=registered.session_id)
        assert isinstance(again, RevokeSessionRevokeSessionNotFound)

    async with AuthqlClient(url=server) as anonymous:
        refreshed = await anonymous.refresh_tokens(refresh_token=login.refresh_token)
        assert isinstance(refreshed, RefreshTokensRefreshTokensAuthPayload)
        assert refreshed.session_id == login.session_id
        assert refreshed.refresh_token != login.refresh_token
        # The revoked session's refresh token is spent.
        dead = await anonymous.refresh_tokens(refresh_token=registered.refresh_token)
        assert isinstance(dead, RefreshTokensRefreshTokensInvalidRefreshToken)

    async with signed_in(server, refreshed.access_token) as ada:
        changed = await ada.change_password(current_password=PASSWORD, new_password=NEW_PASSWORD)
        assert isinstance(changed, ChangePasswordChangePasswordAuthPayload)

    async with AuthqlClient(url=server) as anonymous:
        mails = len(mailbox.received(email))
        reset = await anonymous.start_password_reset(email=email)
        assert isinstance(reset, StartPasswordResetStartPasswordResetPasswordResetStarted)
        assert aware(reset.resend_available_at)
        reset_code = await mailbox.code_for(email, count=mails + 1)
        done = await anonymous.complete_password_reset(
            reset_id=reset.reset_id, code=reset_code, new_password=RESET_PASSWORD
        )
        assert isinstance(done, CompletePasswordResetCompletePasswordResetAuthPayload)

    async with signed_in(server, done.access_token) as ada:
        assert (await ada.logout(scope=LogoutScope.CURRENT)).revoked_sessions == 1
        # A top-level error (no Problem member fits "who are you?") raises, carrying its
        # extensions.code: the logged-out token is refused.
        with pytest.raises(GraphQLClientGraphQLMultiError) as refusal:
            await ada.me()
        assert [error.extensions["code"] for error in refusal.value.errors] == ["UNAUTHENTICATED"]

    async with AuthqlClient(url=server) as anonymous:
        last = await anonymous.login(email=email, password=RESET_PASSWORD)
        assert isinstance(last, LoginLoginAuthPayload)
    async with signed_in(server, last.access_token) as ada:
        wrong_password = await ada.delete_account(password=PASSWORD)
        assert isinstance(wrong_password, DeleteAccountDeleteAccountInvalidCredentials)
        deleted = await ada.delete_account(password=RESET_PASSWORD)
        assert isinstance(deleted, DeleteAccountDeleteAccountAccountDeleted)
        assert deleted.id == me.id
    async with AuthqlClient(url=server) as anonymous:
        assert isinstance(
            await anonymous.login(email=email, password=RESET_PASSWORD), LoginLoginInvalidCredentials
        )
