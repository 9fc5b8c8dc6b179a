"""The TypeScript client (graphql-codegen's client preset, clients/typescript): its committed
code is what the codegen makes of today's schema and operations, it compiles under
`tsc --strict`, and its Node script signs in, refreshes and logs out against a real server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import test_settings as settings_for
from drift import differences
from flows import PASSWORD, register
from npm import TYPESCRIPT, npm_ci, npx
from served import served

pytestmark = pytest.mark.node


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    npm_ci()


def test_the_committed_typescript_client_is_what_the_codegen_makes_now(tmp_path):
    run = npx(
        ["graphql-codegen", "--config", "codegen.ts"],
        env={**os.environ, "AUTHQL_CODEGEN_OUT": f"{tmp_path / 'gql'}/"},
    )

    assert run.returncode == 0, run.stdout + run.stderr
    drift = differences(TYPESCRIPT / "src" / "gql", tmp_path / "gql")
    assert not drift, (
        f"clients/typescript/src/gql is stale ({', '.join(drift)}); "
        "regenerate it with `npm run codegen --prefix clients/typescript`"
    )


def compiled(out: Path) -> Path:
    """clients/typescript/src compiled by `tsc --strict` into `out`; the smoke script's path."""
    run = npx(["tsc", "-p", "tsconfig.json", "--strict", "--outDir", str(out)])
    assert run.returncode == 0, "tsc --strict failed:\n" + run.stdout + run.stderr
    # The package is ESM ("type": "module"); the output, outside it, must say so too.
    (out / "package.json").write_text(json.dumps({"type": "module"}))
    return out / "smoke.js"


@pytest.mark.subprocess
async def test_the_node_script_signs_in_refreshes_and_logs_out(backend_urls, mailbox, tmp_path):
    smoke = compiled(tmp_path / "dist")
    async with served(settings_for(backend_urls, mailbox), tmp_path / "server.log") as url:
        async with httpx.AsyncClient(base_url=url) as client:
            email = (await register(client, mailbox))["user"]["email"]

        ran = subprocess.run(
            ["node", str(smoke), url + "/graphql", email, PASSWORD],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stdout.splitlines()[-1] == "ok", ran.stdout
        assert "after logout: UNAUTHENTICATED, InvalidRefreshToken" in ran.stdout

        # And it fails loudly: a wrong password is a Problem member the script reports, exit 1.
        refused = subprocess.run(
            ["node", str(smoke), url + "/graphql", email, "not the password at all"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "login: InvalidCredentials" in refused.stderr
