"""A local Redis Sentinel setup for tests: a primary, a replica and three sentinels, each
its own process of the redis-server embedded.py finds (`--sentinel` is built in), under
the name `authql`. The sentinels call a primary down after 1 s without an answer."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis

from embedded import HOST, EmbeddedService, _spawn, _wait_ready, free_port, redis_server_binary

MASTER = "authql"
DOWN_AFTER_MS = 1000


@dataclass
class RedisSentinels:
    directory: Path
    redis_ports: list[int] = field(default_factory=list)
    sentinel_ports: list[int] = field(default_factory=list)
    nodes: dict[int, EmbeddedService] = field(default_factory=dict)

    @property
    def sentinels(self) -> str:
        """REDIS_SENTINELS."""
        return ",".join(f"{HOST}:{port}" for port in self.sentinel_ports)

    @property
    def url(self) -> str:
        """REDIS_URL: only the database counts (and a password, had it one)."""
        return f"redis://{HOST}/0"

    def start(self) -> None:
        self.redis_ports = [free_port(), free_port()]
        primary, replica = self.redis_ports
        self.start_redis(primary)
        self.start_redis(replica, "--replicaof", HOST, str(primary))
        self.sentinel_ports = [free_port() for _ in range(3)]
        for port in self.sentinel_ports:
            self.start_sentinel(port, primary)
        self.wait_for(lambda: self._sentinels_agree(primary), "the sentinels never saw the replica")

    def start_redis(self, port: int, *extra: str) -> None:
        node_dir = self.directory / str(port)
        shutil.rmtree(node_dir, ignore_errors=True)
        node_dir.mkdir(parents=True, mode=0o700)
        args = [
            redis_server_binary(), "--port", str(port), "--bind", HOST, "--dir", str(node_dir),
            "--appendonly", "no", "--save", "", "--daemonize", "no", "--logfile", "", *extra,
        ]  # fmt: skip
        service = _spawn(f"redis-{port}", f"redis://{HOST}:{port}/0", args, node_dir / "redis.log")
        _wait_ready(service, port, 20, lambda: _ping(port))
        self.nodes[port] = service

    def start_sentinel(self, port: int, primary: int) -> None:
        node_dir = self.directory / f"sentinel-{port}"
        node_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
        config = node_dir / "sentinel.conf"  # a sentinel rewrites its config: its own file
        config.write_text(
            f"port {port}\nbind {HOST}\ndir {node_dir}\n"
            f"sentinel monitor {MASTER} {HOST} {primary} 2\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} 5000\n"
        )
        args = [redis_server_binary(), str(config), "--sentinel"]
        service = _spawn(f"sentinel-{port}", f"redis://{HOST}:{port}", args, node_dir / "sentinel.log")
        _wait_ready(service, port, 20, lambda: _ping(port))
        self.nodes[port] = service

    def primary(self) -> int:
        """The primary's port, as the first live sentinel names it."""
        for port in self.sentinel_ports:
            try:
                with Redis(host=HOST, port=port, socket_timeout=1) as sentinel:
                    _, primary_port = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
                    return int(primary_port)
            except Exception:
                continue
        raise AssertionError("no sentinel answers")

    def kill(self, port: int) -> None:
        node = self.nodes[port]
        node.process.kill()
        node.process.wait()

    def rejoin(self, port: int) -> None:
        """Start a killed Redis again, empty, as a replica of the current primary."""
        primary = self.primary()
        self.start_redis(port, "--replicaof", HOST, str(primary))
        self.wait_for(lambda: self._sentinels_agree(primary), "the sentinels never saw the node back")

    def _sentinels_agree(self, primary: int) -> bool:
        """Every sentinel names `primary` and knows one live, synced replica."""
        for port in self.sentinel_ports:
            try:
                with Redis(host=HOST, port=port, socket_timeout=1, decode_responses=True) as sentinel:
                    replicas = sentinel.execute_command("SENTINEL", "REPLICAS", MASTER)
                    named = int(sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)[1])
            except Exception:
                return False
            # redis-py parses each replica's state into flags such as is_sdown.
            live = [
                entry for entry in replicas if not entry.get("is_sdown") and not entry.get("is_disconnected")
            ]
            if named != primary or not live:
                return False
        return True

    @staticmethod
    def wait_for(condition: object, failure: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():  # type: ignore[operator]
            assert time.monotonic() < deadline, failure
            time.sleep(0.1)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()


def _ping(port: int) -> bool:
    try:
        with Redis(host=HOST, port=port, socket_timeout=0.5) as node:
            return bool(node.ping())
    except Exception:
        return False
