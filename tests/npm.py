"""The TypeScript client's npm packages (clients/typescript), installed on demand, so the
README's one test command works on a bare clone: `npm ci` runs when node_modules is missing
or older than package-lock.json."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

TYPESCRIPT = Path(__file__).resolve().parent.parent / "clients" / "typescript"
LOCK = TYPESCRIPT / "package-lock.json"
# npm ci rewrites this file last, so its time says when node_modules was installed.
INSTALLED = TYPESCRIPT / "node_modules" / ".package-lock.json"


def npm_ci() -> None:
    """`npm ci` in clients/typescript unless node_modules is already as new as the lock file.

    Test workers running at once take turns (a lock beside the lock file): the first
    installs, the others then find node_modules in place."""
    descriptor = os.open(TYPESCRIPT / ".npm-ci.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        if not (INSTALLED.exists() and INSTALLED.stat().st_mtime >= LOCK.stat().st_mtime):
            _install()
    finally:
        os.close(descriptor)


def _install() -> None:
    npm = shutil.which("npm")
    assert npm, "the TypeScript client's tests need Node 20 and npm on PATH"
    run = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=TYPESCRIPT, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, "npm ci failed:\n" + run.stdout + run.stderr


def npx(
    arguments: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """A tool of clients/typescript's node_modules, run there (never fetched from the registry)."""
    return subprocess.run(
        ["npx", "--no-install", *arguments],
        cwd=TYPESCRIPT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
