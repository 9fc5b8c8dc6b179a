"""`python -m bench --smoke` end to end, for authql, the ceiling and the floor: the store and Redis started
once, both apps on real sockets, a user registered through the four steps (codes from the
bench's SMTP sink), wrk runs checked answer by answer, the argon2 bound, login and
registration, `me` under login load, the admin `users` page (first and last) over 1,000 seeded
accounts, passkey sign-in (tests/authenticator.py's software authenticator), social sign-in against the
tests' OpenID Provider (tests/oidc_provider.py), and the table saved as Markdown and JSON.

fastapi-users is left out here: its environment is installed from PyPI on first use, too slow
and too networked for the suite (`python -m bench --smoke` alone covers it). Only that the
machinery works is asserted, never a number: CI's machine is shared and noisy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Not `serial`: no number is asserted, so the tests of another worker beside it change
# nothing it checks (and a minute of the other worker idle was the suite's longest wait).
pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parent.parent


def test_bench_smoke_runs_end_to_end_and_saves_its_table(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:  # like the browser test: missing is a failure that says what to do
        pytest.fail("wrk is missing: apt-get update && apt-get install -y wrk (.ci/run does so)")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--apps",
            "authql,ceiling,floor",
            "--seconds",
            "1",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [table] = tmp_path.glob("*.md")
    results = json.loads(table.with_suffix(".json").read_text())

    assert set(results["medians"]) == {"authql", "ceiling", "floor"}
    for app, row in results["medians"].items():
        assert row["rate"] > 0, app
        assert row["bad"] == 0, app  # every answer held the user's email: no error counted as work
        assert row["cpu_ms_per_request"] > 0, app
    assert results["argon2_bound"]["verifies_per_second"] > 0
    assert results["argon2_bound"]["memory_kib"] == 65536  # the server's defaults, not the tests' cheap ones
    assert results["login"]["seconds"] > 0  # it ran (a loaded machine may finish no login in 1 s)
    assert results["login"]["bad"] == 0  # logins taking turns over several accounts: each one's answer good
    assert "machine_busy_percent" in results["login"]
    assert results["registration"]["rate"] > 0
    assert results["registration"]["authql_cpu_ms"] > 0  # what each process spent per registration
    # authql's CPU outside its (niced) hashing threads: some, and less than its whole.
    assert 0 < results["registration"]["authql_outside_hash_ms"] < results["registration"]["authql_cpu_ms"]
    assert results["argon2_bound"]["cpu_ms_per_verify"] > 0
    assert results["me_under_login_load"]["bad"] == 0
    assert results["me_under_login_load"]["idle_just_before"]["loop_cpu_ms_per_request"] > 0
    assert "me vs floor (req/s)" in results["ratios"]
    assert "me vs ceiling (req/s)" in results["ratios"]
    assert "| authql |" in table.read_text()
    flows = {row["flow"]: row for row in results["flows"]}
    for page in ("first", "last"):  # the smoke run's 1,000 accounts besides those registered
        [row] = [row for name, row in flows.items() if name.startswith(f"admin users, {page} page of 50 (")]
        assert row["ok"] > 0 and row["bad"] == 0, row  # each answer held that page's own account
    assert "| admin users, last page of 50 (" in table.read_text()
    [passkey] = [row for name, row in flows.items() if name.startswith("passkey sign-in")]
    assert passkey["ok"] > 0 and passkey["bad"] == 0, passkey  # each round ended in an AuthPayload
    assert passkey["p99_ms"] > 0
    social = [row for name, row in flows.items() if name.startswith("social sign-in")]
    assert len(social) == 2  # the whole round, and completeSocialSignIn alone
    for row in social:
        assert row["ok"] > 0 and row["bad"] == 0, row  # every round ended in an AuthPayload
        assert row["p99_ms"] > 0, row
