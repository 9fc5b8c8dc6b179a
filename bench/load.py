"""wrk, driven through bench/request.lua, and its answer read back as numbers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

LUA = Path(__file__).with_name("request.lua")
INSTALL_HINT = "wrk is missing: install it with `apt-get update && apt-get install -y wrk` (Debian's package)"


@dataclass
class Request:
    """What wrk sends, and the text a good answer holds."""

    method: str
    path: str
    expect: str
    body: str = ""
    authorization: str = ""
    # Sent in turn instead of `body` when given (one JSON document each, no newline inside).
    bodies: list[str] = field(default_factory=list)
    # Sent in turn as the Authorization header when given (bench/scale_out.py).
    authorizations: list[str] = field(default_factory=list)


@dataclass
class Load:
    """One wrk run: good answers per second, latency percentiles (ms), and the raw counts."""

    ok: int
    bad: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    socket_errors: str

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "rate": self.rate}


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(INSTALL_HINT)
    return found


def wrk_command(base_url: str, request: Request, *, seconds: float, connections: int) -> list[str]:
    return [
        wrk_binary(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
        "-s", str(LUA), base_url + request.path,
    ]  # fmt: skip


def wrk_env(request: Request) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_METHOD": request.method,
        "BENCH_BODY": request.body,
        "BENCH_BODIES": "\n".join(request.bodies),
        "BENCH_AUTHORIZATION": request.authorization,
        "BENCH_AUTHORIZATIONS": "\n".join(request.authorizations),
        "BENCH_EXPECT": request.expect,
    }


def run_wrk(base_url: str, request: Request, *, seconds: float, connections: int) -> Load:
    """Load `base_url` with `request` for `seconds`; the parsed result."""
    command = wrk_command(base_url, request, seconds=seconds, connections=connections)
    done = subprocess.run(command, env=wrk_env(request), capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout)


def start_wrk(base_url: str, request: Request, *, seconds: float, connections: int) -> subprocess.Popen[str]:
    """wrk in the background (the load under which another run measures); read it with finish_wrk."""
    command = wrk_command(base_url, request, seconds=seconds, connections=connections)
    return subprocess.Popen(
        command, env=wrk_env(request), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_wrk(process: subprocess.Popen[str]) -> Load:
    stdout, stderr = process.communicate(timeout=600)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stderr.strip() or stdout.strip()}")
    return parse_wrk(stdout)


def parse_wrk(output: str) -> Load:
    """The numbers request.lua's done() printed, plus wrk's own socket error line."""
    values = dict(re.findall(r"^bench-([\w-]+) (\d+)$", output, re.MULTILINE))
    if "ok" not in values:
        raise RuntimeError(f"wrk printed no bench- lines:\n{output}")
    errors = re.search(r"Socket errors: (.*)", output)
    return Load(
        ok=int(values["ok"]),
        bad=int(values["bad"]),
        seconds=int(values["duration-us"]) / 1e6,
        p50_ms=int(values["p50-us"]) / 1000,
        p90_ms=int(values["p90-us"]) / 1000,
        p99_ms=int(values["p99-us"]) / 1000,
        socket_errors=errors.group(1) if errors else "",
    )
