"""The app processes under test: started with their logs in a file, waited for, measured
from /proc (CPU time and RSS of the whole process tree: uvicorn's workers are children)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class App:
    """One app under test, running as a child process group of the bench."""

    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    notes: dict[str, str] = field(default_factory=dict)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the group (uvicorn stops its workers), SIGKILL if it will not go."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def pids(self) -> list[int]:
        return [self.process.pid, *descendants(self.process.pid)]

    def cpu_seconds(self) -> dict[int, float]:
        """User + system CPU time so far of the app and of each process under it, by pid."""
        return {pid: cpu_seconds(pid) for pid in self.pids()}

    def rss_bytes(self) -> dict[int, int]:
        """Resident memory of each process of the app (a worker pool: one entry per worker)."""
        return {pid: rss for pid in self.pids() if (rss := rss_bytes(pid)) is not None}


def start_app(name: str, args: list[str], env: dict[str, str], port: int, log_dir: Path, cwd: Path) -> App:
    """Start `args` in its own process group (see wait_ready: apps start side by side)."""
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopping it reaches uvicorn's workers
        )
    return App(name=name, base_url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)


def wait_ready(app: App, path: str, timeout: float = 180.0) -> None:
    """Until `path` answers below 500; RuntimeError quoting the app's log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise RuntimeError(f"{app.name} exited with {app.process.returncode}:\n{tail(app.log_path)}")
        try:
            if httpx.get(app.base_url + path, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{app.name} not ready after {timeout:g}s:\n{tail(app.log_path)}")


def tail(path: Path, lines: int = 30) -> str:
    """The end of an app's log, for an error message (the log itself may not outlive the run)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two samples; a process born in between counts in full (one that
    ended in between is lost: uvicorn's workers live as long as the app)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


class CpuMeter:
    """CPU time of named process groups over one measured part, and how busy the whole
    machine was: where password work's CPU went besides the hashes themselves."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups
        self._before = self._sample()
        self._machine = machine_jiffies()

    def per_operation(self, operations: float) -> dict[str, float]:
        """CPU ms of each group per operation, plus `machine_busy_percent`."""
        after = self._sample()
        total, idle = (now - then for now, then in zip(machine_jiffies(), self._machine, strict=True))
        spent = {
            f"{name}_cpu_ms": round(1000 * cpu_spent(self._before[name], after[name]) / max(operations, 1), 1)
            for name in self._groups
        }
        return {**spent, "machine_busy_percent": round(100 * (1 - idle / max(total, 1)), 1)}

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds(pid) for pid in pids()} for name, pids in self._groups.items()}


def machine_jiffies() -> tuple[int, int]:
    """All CPU time and idle (+ iowait) time since boot, from /proc/stat's first line."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values), values[3] + values[4]


def descendants(root: int) -> list[int]:
    """Every process below `root` (children, grandchildren...), from /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat_fields(int(entry.name))
            if stat is not None:
                children.setdefault(int(stat[1]), []).append(int(entry.name))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """utime + stime (fields 14 and 15 of /proc/<pid>/stat), in seconds, of the process,
    or of one of its threads (its event loop's, say)."""
    stat = _stat_fields(pid, "stat" if thread is None else f"task/{thread}/stat")
    return 0.0 if stat is None else (int(stat[11]) + int(stat[12])) / CLOCK_TICKS


def cpu_seconds_not_niced(pid: int) -> float:
    """utime + stime of the process's threads at nice 0: authql's all but its hashing
    threads, which run niced (HASHING_NICENESS), so the CPU spent outside the hashes."""
    total = 0.0
    try:
        threads = [int(entry.name) for entry in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return 0.0
    for thread in threads:
        stat = _stat_fields(pid, f"task/{thread}/stat")
        if stat is not None and int(stat[16]) == 0:  # field 19, nice
            total += (int(stat[11]) + int(stat[12])) / CLOCK_TICKS
    return total


def rss_bytes(pid: int) -> int | None:
    stat = _stat_fields(pid)
    return None if stat is None else int(stat[21]) * PAGE_SIZE


def _stat_fields(pid: int, name: str = "stat") -> list[str] | None:
    """/proc/<pid>/stat (or `name` under /proc/<pid>) after the command name (which may hold
    spaces): field 3 is index 0."""
    try:
        text = Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()
