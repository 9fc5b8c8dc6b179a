"""The reference apps' own environment: a venv under var/ with bench/requirements-reference.txt,
built with uv from PyPI, never mixed into authql's lock (they pin other versions of the same
libraries). Rebuilt only when the requirements file changes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

REQUIREMENTS = Path(__file__).with_name("requirements-reference.txt")


def reference_python(env_dir: Path) -> Path:
    """The reference venv's interpreter, installing it first if missing or stale."""
    python = env_dir / "bin" / "python"
    stamp = env_dir / ".requirements-sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"bench: building the reference environment in {env_dir} (uv, from PyPI)", flush=True)
    uv = [uv_binary()]
    subprocess.run([*uv, "venv", "-q", "--python", "3.11", "--allow-existing", str(env_dir)], check=True)
    subprocess.run(
        [*uv, "pip", "install", "-q", "--python", str(python), "-r", str(REQUIREMENTS)], check=True
    )
    stamp.write_text(wanted)
    return python


def uv_binary() -> str:
    """The uv that runs us (`uv run` names itself in $UV), else one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        raise SystemExit("bench: uv is needed for the reference environment: python3 -m pip install uv")
    return found
