"""The README's run line works as written where users run it, without warnings, and CI runs
exactly it: with a distribution's own Python (PEP 668 refuses `pip install` into it) and
inside an activated virtualenv (where `uv run` warns that VIRTUAL_ENV is not the project's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRINT_PREFIX = "python -c 'import sys; print(sys.prefix)'"


def readme_test_line() -> str:
    """The one line of the README's block after "Run the whole test suite"."""
    section = (ROOT / "README.md").read_text().split("Run the whole test suite", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = block.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def run_line(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The README's test line with `pytest` replaced by `command`, run as a user's shell would."""
    line = readme_test_line()
    assert line.endswith(" pytest") or line == "./run pytest", line
    line = line.removesuffix("pytest") + command
    return subprocess.run(["sh", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def warnings_in(stderr: str) -> list[str]:
    """Lines a user would read as a warning or an error (uv's progress lines are neither)."""
    return [line for line in stderr.splitlines() if line.lower().startswith(("warning", "error"))]


def test_ci_runs_exactly_the_readme_test_line():
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci[-1] == readme_test_line()


@pytest.mark.subprocess
def test_run_line_inside_an_activated_virtualenv_uses_the_project_environment_quietly(tmp_path):
    # uv itself is in place (installed by the run that started this test, or now), so the
    # virtualenv needs no pip of its own (ensurepip would take most of this test's time).
    bootstrap = run_line("python -c pass", ROOT, {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})
    assert bootstrap.returncode == 0, bootstrap.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    env.pop("PYTHONHOME", None)
    result = run_line(PRINT_PREFIX, ROOT, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(ROOT / ".venv")
    assert "VIRTUAL_ENV" not in result.stderr
    assert warnings_in(result.stderr) == []


def externally_managed_python() -> Path | None:
    """A Python 3.11 with pip that PEP 668 marks as the system's, like Debian's own, if any."""
    probe = (
        "import os, sys, sysconfig, pip; "
        "print(sys.version_info[:2] == (3, 11) and "
        "os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))"
    )
    for candidate in ("/usr/bin/python3", "/usr/bin/python3.11"):
        if not os.access(candidate, os.X_OK):
            continue
        result = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, timeout=60)
        if result.stdout.strip() == "True":
            return Path(candidate)
    return None


@pytest.mark.subprocess
def test_run_line_on_an_externally_managed_system_python(tmp_path):
    python = externally_managed_python()
    if python is None:
        pytest.skip("no PEP 668 system Python 3.11 with pip here (Debian: apt-get install python3-pip)")
    project = tmp_path / "project"
    project.mkdir()
    for name in ("run", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(ROOT / name, project / name)
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "python3").symlink_to(python)
    env = {key: value for key, value in os.environ.items() if key not in {"VIRTUAL_ENV", "PYTHONHOME"}}
    env["PATH"] = f"{shims}:{env['PATH']}"
    # The faithful part: this Python refuses what the old run line did.
    refused = subprocess.run(
        ["python3", "-m", "pip", "install", "--dry-run", "uv"], env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr
    result = run_line(PRINT_PREFIX, project, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(project / ".venv")
    assert warnings_in(result.stderr) == []


@pytest.mark.subprocess
def test_the_test_tools_come_with_pytest_and_not_with_the_server(tmp_path):
    """`./run server.py` on a bare machine installs what the server runs: the test group
    (Hypothesis, Playwright...) only comes with `./run pytest`."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("run", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(ROOT / name, project / name)
    bootstrap = run_line("python -c pass", ROOT, {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})
    assert bootstrap.returncode == 0, bootstrap.stderr
    (project / ".uv").symlink_to(ROOT / ".uv")  # uv itself, as the run that started this test left it
    env = {key: value for key, value in os.environ.items() if key not in {"VIRTUAL_ENV", "PYTHONHOME"}}
    for tool in ("hypothesis", "playwright", "pytest"):
        bare = run_line(f"python -c 'import {tool}'", project, env)
        assert bare.returncode != 0 and f"No module named '{tool}'" in bare.stderr, (tool, bare.stderr)
    tested = run_line("pytest --version", project, env)
    assert tested.returncode == 0, tested.stderr
    assert run_line("python -c 'import hypothesis, playwright'", project, env).returncode == 0
