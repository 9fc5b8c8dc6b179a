"""npm packages the tests use (clients/typescript, tests/oidc), installed on demand, so the
README's one test command works on a bare clone: `npm ci` runs in a package's directory when
its node_modules is missing or older than its package-lock.json."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

TYPESCRIPT = Path(__file__).resolve().parent.parent / "clients" / "typescript"


def npm_ci(directory: Path = TYPESCRIPT) -> None:
    """`npm ci` in `directory` unless its node_modules is already as new as its lock file.

    Test workers running at once take turns (a lock beside the lock file): the first
    installs, the others then find node_modules in place."""
    lock = directory / "package-lock.json"
    # npm ci rewrites this file last, so its time says when node_modules was installed.
    installed = directory / "node_modules" / ".package-lock.json"
    descriptor = os.open(directory / ".npm-ci.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        if not (installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime):
            _install(directory)
    finally:
        os.close(descriptor)


def _install(directory: Path) -> None:
    npm = shutil.which("npm")
    assert npm, f"the tests of {directory.name} need Node 20 and npm on PATH"
    run = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=directory, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, f"npm ci in {directory} failed:\n" + run.stdout + run.stderr


def npx(
    arguments: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    directory: Path = TYPESCRIPT,
) -> subprocess.CompletedProcess[str]:
    """A tool of `directory`'s node_modules, run there (never fetched from the registry)."""
    return subprocess.run(
        ["npx", "--no-install", *arguments],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
