"""Scale-out: what a signed-in `me`, a `login` and a `refreshTokens` cost when the worker
that answers has not kept the user (README "Scaling").

    ./run --group test python -m bench.scale_out --before <commit> [--workers 4]

authql runs as `uvicorn server:app --workers N` from a scratch copy of a commit (this
branch's HEAD, and `--before` for comparison) with its per-process user cache shrunk to one
user (`USER_CACHE_SIZE = 1` in the copy's services.py): every request misses the process's
copy, as it does behind a load balancer without sticky sessions once users outnumber what
a worker sees within KEPT_TRUST_SECONDS. Accounts are read round-robin.

Counted per request: MongoDB commands, through a proxy in front of nx-27017 that reads each
OP_MSG's command name and collection (heartbeats left out); Redis round trips, by MONITOR
(commands a script runs are not round trips; a MULTI..EXEC transaction is one); then wrk
loads `me` round-robin over the accounts for the rate and latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import bson
import httpx
from argon2 import PasswordHasher

from bench.admin_pages import seed_accounts
from bench.load import Request, run_wrk
from bench.procs import App, start_app, wait_ready
from bench.runner import authql_env
from embedded import free_port, start_mongo, start_redis, stop_services

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
ME = '{"query": "{ me { id email firstName lastName } }"}'
PAIR = "{ __typename ... on AuthPayload { accessToken refreshToken } }"
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) " + PAIR + " }"
REFRESH = "mutation($t: String!) { refreshTokens(refreshToken: $t) " + PAIR + " }"
HEARTBEATS = {"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo", "buildinfo"}
# The cheapest argon2 the settings allow: the bench is about the signed-in read.
ARGON2 = {"ARGON2_TIME_COST": "2", "ARGON2_MEMORY_KIB": "19456", "ARGON2_PARALLELISM": "1"}


class MongoCounter:
    """A TCP proxy in front of MongoDB counting each command by name and collection."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.commands: Counter[tuple[str, str]] = Counter()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()

    async def _start(self) -> None:
        await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)

        async def back() -> None:
            while chunk := await up_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
            writer.close()

        task = asyncio.ensure_future(back())
        try:
            while True:
                header = await reader.readexactly(16)
                length, _, _, opcode = struct.unpack("<iiii", header)
                body = await reader.readexactly(length - 16)
                if opcode == 2013 and body[4] == 0:  # OP_MSG, its body section first
                    size = struct.unpack("<i", body[5:9])[0]
                    command = bson.decode(body[5 : 5 + size])
                    name = next(iter(command))
                    if name not in HEARTBEATS:
                        self.commands[(name, str(command[name]))] += 1
                up_writer.write(header + body)
                await up_writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            up_writer.close()
            task.cancel()

    def take(self) -> Counter[tuple[str, str]]:
        taken, self.commands = self.commands, Counter()
        return taken


class RedisCounter:
    """Round trips to Redis, by MONITOR (read off the socket: arguments may be binary),
    while `counting` is on."""

    LINE = re.compile(r'^\+[\d.]+ \[\d+ (?P<client>[^\]]+)\] "(?P<name>[^"]+)"')

    def __init__(self, url: str) -> None:
        address = url.split("://", 1)[1].split("/", 1)[0]
        host, port = address.rsplit(":", 1)
        self._socket = socket.create_connection((host, int(port)))
        self._socket.sendall(b"MONITOR\r\n")
        self.lines: list[tuple[str, str]] = []
        self.counting = False
        threading.Thread(target=self._watch, daemon=True).start()
        time.sleep(0.3)

    def _watch(self) -> None:
        with self._socket.makefile("rb") as lines:
            for raw in lines:
                found = self.LINE.match(raw.decode("latin-1"))
                if found and self.counting:
                    self.lines.append((found["client"], found["name"].lower()))

    def take(self) -> Counter[str]:
        """Round trips by command name: scripts' own commands left out, a transaction once."""
        lines, self.lines = self.lines, []
        trips: Counter[str] = Counter()
        in_transaction: set[str] = set()
        for client, name in lines:
            if client == "lua":
                continue
            if name == "multi":
                in_transaction.add(client)
                trips["multi..exec"] += 1
            elif name == "exec":
                in_transaction.discard(client)
            elif client not in in_transaction:
                trips[name] += 1
        return trips

    def close(self) -> None:
        self._socket.close()


def scratch_copy(commit: str, into: Path) -> Path:
    """`commit`'s tree, with the per-process user cache shrunk to one user."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    services = into / "services.py"
    text, count = re.subn(r"^USER_CACHE_SIZE = .*$", "USER_CACHE_SIZE = 1", services.read_text(), flags=re.M)
    assert count == 1, "no USER_CACHE_SIZE in services.py"
    services.write_text(text)
    return into


def seed(mongo_url: str, database: str, count: int) -> list[str]:
    """`count` accounts with the bench password; their emails."""
    digest = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(PASSWORD)
    seed_accounts(mongo_url, database, count, email_prefix="scale", password_hash=digest)
    return [f"scale-{number}@example.com" for number in range(count)]


async def call(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    assert not body.get("errors"), body
    return next(iter(body["data"].values()))


def per_request(counts: Counter[Any], requests: int) -> dict[str, float]:
    return {
        " ".join(key) if isinstance(key, tuple) else key: round(n / requests, 3) for key, n in counts.items()
    }


async def measure(
    base_url: str, emails: list[str], mongo: MongoCounter, redis: RedisCounter
) -> tuple[dict[str, Any], list[str]]:
    """MongoDB commands and Redis round trips per login, refresh and `me` (round-robin over
    the accounts, one request at a time); the accounts' access tokens."""
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        logins = 20
        await call(client, LOGIN, {"e": emails[-1], "p": PASSWORD})  # the first request's own work
        await asyncio.sleep(1)
        mongo.take()
        redis.take()
        redis.counting = True
        pairs = [await call(client, LOGIN, {"e": email, "p": PASSWORD}) for email in emails[:logins]]
        await asyncio.sleep(0.2)
        redis.counting = False
        results["login"] = {
            "mongo": per_request(mongo.take(), logins),
            "redis": per_request(redis.take(), logins),
        }
        pairs += [await call(client, LOGIN, {"e": email, "p": PASSWORD}) for email in emails[logins:]]
        tokens = [pair["accessToken"] for pair in pairs]

        mongo.take()
        redis.counting = True
        renewed = [await call(client, REFRESH, {"t": pair["refreshToken"]}) for pair in pairs[:logins]]
        await asyncio.sleep(0.2)
        redis.counting = False
        results["refreshTokens"] = {
            "mongo": per_request(mongo.take(), logins),
            "redis": per_request(redis.take(), logins),
        }
        tokens[:logins] = [pair["accessToken"] for pair in renewed]

        for _ in range(2):  # every user read once or twice: the first read of each leaves what it leaves
            for token in tokens:
                await call(client, "{ me { id } }", {}, token)
        mongo.take()
        redis.take()
        reads = 3 * len(tokens)
        redis.counting = True
        for _ in range(3):
            for token in tokens:
                await call(client, "{ me { id email firstName lastName } }", {}, token)
        await asyncio.sleep(0.2)
        redis.counting = False
        results["me"] = {"mongo": per_request(mongo.take(), reads), "redis": per_request(redis.take(), reads)}

    return results, tokens


def load(base_url: str, tokens: list[str], mongo: MongoCounter, seconds: float) -> dict[str, Any]:
    """wrk on `me`: round-robin over every account (each request misses the worker's copy),
    then one account (kept by every worker: the warm path)."""
    spread = Request("POST", "/graphql", '"email"', ME, authorizations=[f"Bearer {t}" for t in tokens])
    mongo.take()
    cold = run_wrk(base_url, spread, seconds=seconds, connections=32).as_dict()
    read = sum(n for (_, target), n in mongo.take().items() if target in ("users", "sessions"))
    cold["mongo_per_request"] = round(read / max(1, int(cold["ok"])), 3)
    warm = Request("POST", "/graphql", '"email"', ME, authorization=f"Bearer {tokens[0]}")
    return {"cold": cold, "warm": run_wrk(base_url, warm, seconds=seconds, connections=32).as_dict()}


def start(
    label: str, tree: Path, workers: int, accounts: int, mongo_port: int, redis_url: str, log_dir: Path
) -> tuple[App, MongoCounter, list[str]]:
    """authql from `tree` as `uvicorn server:app --workers N` (MongoDB through a counter), and
    its seeded accounts' emails."""
    counter = MongoCounter(mongo_port)
    database = f"scale_{label}"
    emails = seed(f"mongodb://127.0.0.1:{mongo_port}", database, accounts)
    port = free_port()
    mongo_url = f"mongodb://127.0.0.1:{counter.port}"
    env = authql_env(dict(os.environ), mongo_url, redis_url, "s" * 48, free_port(), log_dir)
    env.update(ARGON2, MONGO_DB=database, PYTHONPATH=str(tree))
    args = [sys.executable, "-m", "uvicorn", "server:app", "--workers", str(workers), "--port", str(port),
            "--no-access-log"]  # fmt: skip
    app = start_app(f"authql-{label}", args, env, port, log_dir, tree)
    wait_ready(app, "/health/ready")
    return app, counter, emails


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit to compare with (e.g. main)")
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved wrk runs per app")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    options = parser.parse_args()
    labels = {"before": options.before, "after": options.after}
    results: dict[str, Any] = {"workers": options.workers, "accounts": options.accounts}
    with tempfile.TemporaryDirectory(prefix="authql-scale-") as scratch:
        base = Path(scratch)
        services = [start_mongo(base / "data"), start_redis(base / "data")]
        apps: list[App] = []
        try:
            mongo_port = int(services[0].url.rsplit(":", 1)[1])
            redis = RedisCounter(services[1].url)
            started = {}
            for label, commit in labels.items():
                tree = scratch_copy(commit, base / label)
                started[label] = start(label, tree, options.workers, options.accounts, mongo_port,
                                       services[1].url, base)  # fmt: skip
                apps.append(started[label][0])
            tokens = {}
            for label, (app, counter, emails) in started.items():
                results[label], tokens[label] = asyncio.run(measure(app.base_url, emails, counter, redis))
            runs: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
            for round_ in range(options.rounds):  # interleaved, the order swapped each round
                for label in list(labels)[:: 1 if round_ % 2 == 0 else -1]:
                    app, counter, _ = started[label]
                    runs[label].append(load(app.base_url, tokens[label], counter, options.seconds))
            for label in labels:
                results[label]["runs"] = runs[label]
                for kind in ("cold", "warm"):
                    results[label][f"me_{kind}"] = {
                        "rate": median([run[kind]["rate"] for run in runs[label]]),
                        "p50_ms": median([run[kind]["p50_ms"] for run in runs[label]]),
                        "p99_ms": median([run[kind]["p99_ms"] for run in runs[label]]),
                    }
                results[label]["me_cold"]["mongo_per_request"] = max(
                    run["cold"]["mongo_per_request"] for run in runs[label]
                )
            redis.close()
        finally:
            for app in apps:
                app.stop()
            stop_services(services)
    text = json.dumps(results, indent=2)
    print(text)
    if options.out:
        options.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
