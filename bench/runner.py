"""One command for the whole bench: the store and Redis once, every app on them, interleaved
wrk runs of the signed-in read, the admin users page over many accounts, passkey and social
sign-in, the argon2 bound, login and registration, and the table.

    ./run --group test python -m bench            # the full bench (~10 minutes)
    ./run --group test python -m bench --smoke    # a couple of seconds of each
    ./run --group test python -m bench --soak 10  # plus a 10-minute mixed soak
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from redis import Redis

from bench import admin_pages, flows, passkeys, social
from bench.argon2_bound import measure
from bench.load import Load, Request, finish_wrk, run_wrk, start_wrk, wrk_binary
from bench.procs import App, CpuMeter, cpu_seconds, cpu_seconds_not_niced, cpu_spent, start_app, wait_ready
from bench.reference import reference_python
from bench.report import Results, now
from embedded import EmbeddedService, free_port, start_mongo, start_redis, stop_services
from settings import RATE_LIMITED_OPERATIONS, Settings

ROOT = Path(__file__).resolve().parent.parent
APPS = ("authql", "authql-2w", "ceiling", "floor", "fastapi-users")
AUTHQL_DB = "authql_bench"
DEFAULTS = Settings.model_fields  # the server's defaults: production argon2, 2 hashing threads


@dataclass
class Plan:
    """How long and how hard each part runs."""

    runs: int
    seconds: float
    connections: int
    password_seconds: float
    mode: str


FULL = Plan(runs=4, seconds=10, connections=32, password_seconds=10, mode="full")
SMOKE = Plan(runs=1, seconds=2, connections=8, password_seconds=2, mode="smoke")
SMOKE_ACCOUNTS = 1_000


def authql_env(
    base: dict[str, str], mongo: str, redis: str, secret: str, smtp_port: int, data: Path, admin_key: str = ""
) -> dict[str, str]:
    """authql's settings for the bench: production defaults, except per-IP limits and mail
    budgets out of the way (one client IP sends everything) and long-lived access tokens."""
    env = {key: value for key, value in base.items() if key.lower() not in DEFAULTS}
    env.update(
        {
            "MONGO_URL": mongo,
            "MONGO_DB": AUTHQL_DB,
            # A fresh database each run: its indexes built at start (what `python -m
            # documents.migrate` does before production workers).
            "MONGO_INDEXES": "build",
            "REDIS_URL": redis,
            "JWT_SECRET": secret,
            "DATA_DIR": str(data / "authql"),
            "MAILER": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SMTP_SECURITY": "none",
            "ACCESS_TOKEN_TTL_SECONDS": "86400",
            "MAILS_PER_HOUR": "1000000",
            "MAILS_PER_IP_PER_HOUR": "1000000",
            **{f"RATE_LIMIT_{operation.upper()}": "1000000/minute" for operation in RATE_LIMITED_OPERATIONS},
            "RATE_LIMIT_DOCUMENTS": "1000000/minute",
            "RATE_LIMIT_ADMIN": "1000000/minute",
        }
    )
    if admin_key:
        env["ADMIN_API_KEY"] = admin_key  # the admin API on, for its users page
    return env


def start_apps(
    names: Iterable[str], env: dict[str, str], data: Path, reference_env: Path, results: Results
) -> dict[str, App]:
    """Every app asked for, on its own port, against the same store."""
    apps: dict[str, App] = {}
    ready_paths: dict[str, str] = {}
    log_dir = ROOT / "var" / "bench-logs" / f"{results.started:%Y-%m-%dT%H%M%S}"
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        for name in names:
            port = free_port()
            if name == "authql":
                args = [sys.executable, "server.py"]
                app_env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
                ready, where = "/health/ready", "authql's locked environment"
            elif name == "authql-2w":
                metrics_dir = data / "metrics"
                metrics_dir.mkdir(mode=0o700, exist_ok=True)
                args = [
                    sys.executable, "-m", "uvicorn", "server:app", "--workers", "2", "--no-proxy-headers",
                    "--log-config", "log-config/text.json", "--host", "127.0.0.1", "--port", str(port),
                    # uvicorn kills a worker that has not answered its ping in 5 s; on a busy machine
                    # a spawned worker importing authql takes longer, and is killed in a loop.
                    "--timeout-worker-healthcheck", "120",
                ]  # fmt: skip
                app_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
                ready, where = "/health/ready", "authql's locked environment, README's production line"
            elif name == "ceiling":
                args = [
                    sys.executable, "-m", "uvicorn", "bench.apps.ceiling:app", "--port", str(port),
                    "--loop", "uvloop", "--http", "h11", "--no-access-log",
                ]  # fmt: skip
                app_env = env
                ready, where = "/graphql", "authql's locked environment (its Starlette, PyJWT, redis-py)"
            elif name == "floor":
                args = [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bench.apps.floor:app",
                    "--port",
                    str(port),
                    "--no-access-log",
                ]
                app_env = env
                ready, where = "/me", "authql's locked environment (the same Starlette, PyJWT and Beanie)"
            elif name == "fastapi-users":
                python = reference_python(reference_env)
                args = [str(python), "-m", "uvicorn", "bench.apps.fastapi_users_app:app", "--port", str(port)]
                app_env = {**env, "MONGO_DB": "fastapi_users_bench"}
                ready, where = "/docs", f"{shown_path(reference_env)} (bench/requirements-reference.txt)"
            else:
                raise SystemExit(f"bench: unknown app {name!r} (known: {', '.join(APPS)})")
            apps[name] = start_app(name, args, app_env, port, log_dir, ROOT)
            ready_paths[name] = ready
            shown = " ".join(
                Path(arg).name if arg in (sys.executable, str(reference_env / "bin" / "python")) else arg
                for arg in args
            )
            log = shown_path(apps[name].log_path)
            results.apps[name] = {"command": shown, "environment": where, "log": log}
        for name, app in apps.items():
            wait_ready(app, ready_paths[name])
            print(f"bench: {name} ready at {app.base_url}", flush=True)
    except BaseException:
        for app in apps.values():
            app.stop()
        raise
    return apps


def shown_path(path: Path) -> str:
    """A path as the results show it: relative to the checkout when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def requests_for(apps: dict[str, App], sink: flows.CodeSink) -> dict[str, Request]:
    """Seed one user per store and build each app's signed-in read; each is tried once first."""
    me: dict[str, Request] = {}
    authql = apps.get("authql") or apps.get("authql-2w")
    if authql is not None:
        token = asyncio.run(_register_one(authql.base_url, sink))
        body = json.dumps({"query": flows.ME})
        for name in ("authql", "authql-2w"):
            me[name] = Request("POST", "/graphql", '"email"', body=body, authorization=f"Bearer {token}")
        me["floor"] = Request("GET", "/me", '"email"', authorization=f"Bearer {token}")
        me["ceiling"] = Request("POST", "/graphql", '"email"', body=body, authorization=f"Bearer {token}")
    if "fastapi-users" in apps:
        token = asyncio.run(flows.seed_fastapi_users(apps["fastapi-users"].base_url))
        me["fastapi-users"] = Request("GET", "/users/me", '"email"', authorization=f"Bearer {token}")
    if ("floor" in apps or "ceiling" in apps) and authql is None:
        raise SystemExit("bench: the floor and the ceiling read authql's user with its token: run authql too")
    for name, app in apps.items():
        check = run_wrk(app.base_url, me[name], seconds=1, connections=1)
        if check.ok == 0 or check.bad:
            raise RuntimeError(f"bench: {name} did not answer its signed-in read; log: {app.log_path}")
    return {name: me[name] for name in apps}


async def _register_one(base_url: str, sink: flows.CodeSink) -> str:
    import httpx  # noqa: PLC0415

    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        return await flows.register(client, sink, BENCH_USER)


BENCH_USER = "bench-user@example.com"


def interleaved(apps: dict[str, App], me: dict[str, Request], plan: Plan, results: Results) -> None:
    """A B C D A B C D ...: drift on a shared machine lands on every app alike."""
    for run in range(plan.runs):
        for name, app in apps.items():
            cpu_before = app.cpu_seconds()
            load = run_wrk(app.base_url, me[name], seconds=plan.seconds, connections=plan.connections)
            cpu = cpu_spent(cpu_before, app.cpu_seconds())
            answered = load.ok + load.bad
            row = {
                "app": name,
                "run": run + 1,
                **load.as_dict(),
                "cpu_ms_per_request": 1000 * cpu / max(answered, 1),
            }
            results.runs.append(row)
            print(f"bench: run {run + 1} {name}: {load.rate:.0f} req/s, p99 {load.p99_ms:.1f} ms", flush=True)


def password_work(
    app: App,
    me: Request,
    sink: flows.CodeSink,
    services: list[EmbeddedService],
    plan: Plan,
    results: Results,
) -> None:
    """The argon2 bound, then login and registration against it, then `me` under login load.
    Login and registration also say what CPU each took, by process, besides the hash."""
    groups = {"authql": app.pids, **{service.name: pid_of(service) for service in services}}
    groups["bench_client"] = lambda: [os.getpid()]  # registration's HTTP client and SMTP sink
    threads = int(DEFAULTS["password_workers"].default)
    bound = measure(
        DEFAULTS["argon2_time_cost"].default,
        DEFAULTS["argon2_memory_kib"].default,
        DEFAULTS["argon2_parallelism"].default,
        threads,
        plan.password_seconds,
    )
    results.argon2 = asdict(bound)
    print(f"bench: argon2 bound {bound.verifies_per_second:.1f}/s", flush=True)
    # 4 per hashing thread: always work waiting, never past PASSWORD_QUEUE_LIMIT (8 per thread).
    in_flight = 4 * threads
    login = login_request(app, sink, accounts=in_flight)
    meter = CpuMeter(groups)
    outside = cpu_seconds_not_niced(app.process.pid)
    logins = run_wrk(app.base_url, login, seconds=plan.password_seconds, connections=in_flight)
    results.login = {
        **logins.as_dict(),
        **meter.per_operation(logins.ok),
        **outside_the_hash(app, outside, logins.ok),
    }
    print(f"bench: login {results.login['rate']:.1f}/s", flush=True)
    # Smoke: one person per hashing thread, so a slow machine finishes the last ones soon.
    people = threads if plan.mode == "smoke" else in_flight
    meter = CpuMeter(groups)
    outside = cpu_seconds_not_niced(app.process.pid)
    rate, done = asyncio.run(
        flows.registrations(app.base_url, sink, seconds=plan.password_seconds, concurrency=people)
    )
    results.registration = {
        "rate": rate,
        "concurrency": people,
        "ok": done,
        **meter.per_operation(done),
        **outside_the_hash(app, outside, done),
    }
    print(f"bench: registration {rate:.1f}/s", flush=True)
    # The event loop's own CPU per read, idle and then under login load: what the hashes
    # cost the reads besides the cores they take (memory traffic, caches).
    loop_before = event_loop_cpu(app)
    idle = run_wrk(app.base_url, me, seconds=plan.seconds, connections=plan.connections)
    idle_loop_ms = 1000 * (event_loop_cpu(app) - loop_before) / max(idle.ok, 1)
    background = start_wrk(app.base_url, login, seconds=plan.seconds + 2, connections=in_flight)
    try:
        time.sleep(1)  # the pool saturated before the measured run starts
        loop_before = event_loop_cpu(app)
        loaded = run_wrk(app.base_url, me, seconds=plan.seconds, connections=plan.connections)
        loaded_loop_ms = 1000 * (event_loop_cpu(app) - loop_before) / max(loaded.ok, 1)
    finally:
        logins = finish_wrk(background)
    results.under_login = {
        **loaded.as_dict(),
        "loop_cpu_ms_per_request": round(loaded_loop_ms, 2),
        "idle_just_before": {**idle.as_dict(), "loop_cpu_ms_per_request": round(idle_loop_ms, 2)},
        "logins_meanwhile": logins.as_dict(),
    }
    print(f"bench: me under login load: p99 {loaded.p99_ms:.1f} ms", flush=True)


def outside_the_hash(app: App, before: float, operations: int) -> dict[str, float]:
    """authql's CPU ms per operation outside its hashing threads (the event loop, the outbox
    sender, every thread but the niced hash pool), since `before`. Not authql's total less
    the bound's CPU per hash: the hashes still running when a run ends would count in full."""
    spent = cpu_seconds_not_niced(app.process.pid) - before
    return {"authql_outside_hash_ms": round(1000 * spent / max(operations, 1), 1)}


def event_loop_cpu(app: App) -> float:
    """CPU seconds of `python server.py`'s main thread, where its event loop runs."""
    return cpu_seconds(app.process.pid, thread=app.process.pid)


def pid_of(service: EmbeddedService) -> Callable[[], list[int]]:
    return lambda: [service.process.pid]


def login_request(app: App, sink: flows.CodeSink, *, accounts: int) -> Request:
    """Logins spread over `accounts` people, registered now, each one's turn in order.

    Real logins come from many people; one account hammered by every connection would
    measure its lockout's in-flight bound (security/lockout.py), not the hashing."""
    addresses = asyncio.run(register_many(app.base_url, sink, accounts))
    bodies = [
        json.dumps({"query": flows.LOGIN, "variables": {"email": address, "password": flows.PASSWORD}})
        for address in addresses
    ]
    return Request("POST", "/graphql", "AuthPayload", bodies=bodies)


async def register_many(base_url: str, sink: flows.CodeSink, count: int) -> list[str]:
    import httpx  # noqa: PLC0415

    addresses = [flows.new_address() for _ in range(count)]
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        await asyncio.gather(*(flows.register(client, sink, address) for address in addresses))
    return addresses


SETTLE_SECONDS = 2.0  # a hash takes about 0.3 s; queued ones of hung-up clients are dropped


def soak(
    app: App, me: Request, sink: flows.CodeSink, redis_url: str, minutes: float, plan: Plan, results: Results
) -> None:
    """Mixed load (reads and a trickle of logins) for `minutes`; RSS of each process sampled,
    Redis key count before and after.

    RSS is read once the logins' last hashes have ended (SETTLE_SECONDS after each load):
    each running hash holds argon2's 64 MiB, so a sample taken mid-hash says only how many
    hashes happened to be running, not whether memory grows."""
    redis = Redis.from_url(redis_url)
    keys_before = int(redis.dbsize())
    in_flight = 2 * int(DEFAULTS["password_workers"].default)  # every hashing thread busy at times
    login = login_request(app, sink, accounts=in_flight)
    samples: list[dict[str, Any]] = []

    def mixed_load() -> Load:
        background = start_wrk(app.base_url, login, seconds=20, connections=in_flight)
        load = run_wrk(app.base_url, me, seconds=20, connections=plan.connections)
        finish_wrk(background)
        return load

    mixed_load()  # warm-up, unsampled: each hashing thread's first argon2 memory is not growth
    started = time.monotonic()
    while time.monotonic() - started < minutes * 60:
        load = mixed_load()
        time.sleep(SETTLE_SECONDS)
        rss = {str(pid): size / 2**20 for pid, size in app.rss_bytes().items()}
        samples.append(
            {"minute": round((time.monotonic() - started) / 60, 2), "rss_mib": rss, "rate": load.rate}
        )
        print(f"bench: soak {samples[-1]['minute']} min, RSS MiB {rss}", flush=True)
    keys_after = int(redis.dbsize())
    redis.close()
    first, last = samples[0]["rss_mib"], samples[-1]["rss_mib"]
    growth = {pid: last[pid] / first[pid] - 1 for pid in first if pid in last}
    results.soak = {
        "minutes": minutes,
        "redis_keys_before": keys_before,
        "redis_keys_after": keys_after,
        "rss_growth": growth,
        "samples": samples,
    }


def admin_users(
    app: App, mongo_url: str, admin_key: str, accounts: int, plan: Plan, results: Results
) -> None:
    """The admin `users` page (50 rows) with `accounts` more accounts in the store: its first
    page and its last, each a wrk run like `me`'s."""
    started = time.monotonic()
    total = admin_pages.seed_accounts(mongo_url, AUTHQL_DB, accounts)
    print(f"bench: {total} accounts in the store ({time.monotonic() - started:.0f} s to seed)", flush=True)
    pages = {
        "first": admin_pages.page_request(admin_key, None, f'"{BENCH_USER}"'),
        "last": admin_pages.page_request(
            admin_key, admin_pages.last_page_cursor(mongo_url, AUTHQL_DB), f"bench-admin-{accounts - 1}@"
        ),
    }
    for which, request in pages.items():
        load = asyncio.run(admin_pages.pages(app.base_url, request, seconds=plan.seconds))
        # A page slower than BACKEND_TIMEOUT_SECONDS is answered SERVICE_UNAVAILABLE (counted
        # bad) while the store goes on with it: the next part waits until authql reads again.
        settle = asyncio.run(admin_pages.wait_for_authql(app.base_url, admin_key))
        name = f"admin users, {which} page of {admin_pages.PAGE} ({total} accounts, one operator)"
        results.flows.append({"flow": name, **load, "store_settled_after_s": round(settle, 1)})
        print(
            f"bench: {name}: {load['rate']:.1f}/s, p99 {load['p99_ms']:.1f} ms, {load['bad']} bad; "
            f"the store answered again {settle:.0f} s later",
            flush=True,
        )


def passkey_sign_ins(app: App, sink: flows.CodeSink, plan: Plan, results: Results) -> None:
    """Passkey sign-in, start to tokens: two requests and an ECDSA signature per round."""
    load = asyncio.run(
        passkeys.sign_ins(app.base_url, sink, seconds=plan.seconds, concurrency=PASSKEY_CONCURRENCY)
    )
    name = f"passkey sign-in, start + finish ({PASSKEY_CONCURRENCY} at once)"
    results.flows.append({"flow": name, **load})
    print(f"bench: {name}: {load['rate']:.0f}/s, p99 {load['p99_ms']:.1f} ms", flush=True)


PASSKEY_CONCURRENCY = 8  # one account and authenticator each


def social_sign_ins(app: App, oidc: Any, plan: Plan, results: Results) -> None:
    """Social sign-in against the tests' OpenID Provider: whole rounds, and the completion."""
    rounds, completion = asyncio.run(
        social.sign_ins(app.base_url, oidc, seconds=plan.seconds, concurrency=SOCIAL_CONCURRENCY)
    )
    for name, load in (
        (
            f"social sign-in, whole round: start, provider, callback, complete ({SOCIAL_CONCURRENCY} at once)",  # noqa: E501
            rounds,
        ),
        ("social sign-in, completeSocialSignIn alone (same rounds)", completion),
    ):
        results.flows.append({"flow": name, **load})
        print(f"bench: {name}: {load['rate']:.0f}/s, p99 {load['p99_ms']:.1f} ms", flush=True)


SOCIAL_CONCURRENCY = 4  # one provider subject each; the Node provider is the slower side


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load average": " ".join(f"{value:.2f}" for value in os.getloadavg()),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def parse(argv: Iterable[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a couple of seconds of each part")
    parser.add_argument("--apps", default=",".join(APPS), help=f"comma-separated, of {', '.join(APPS)}")
    parser.add_argument("--runs", type=int, help="interleaved runs per app (4; smoke 1)")
    parser.add_argument("--seconds", type=float, help="seconds per wrk run (10; smoke 2)")
    parser.add_argument("--connections", type=int, help="wrk connections (32; smoke 8)")
    parser.add_argument(
        "--accounts",
        type=int,
        help=f"accounts behind the admin users page ({admin_pages.ACCOUNTS}; smoke {SMOKE_ACCOUNTS})",
    )
    parser.add_argument("--no-password-work", action="store_true", help="skip argon2, login, registration")
    parser.add_argument(
        "--password-work-only",
        action="store_true",
        help="authql alone: the argon2 bound, login, registration and `me` under login load, nothing else",
    )
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="then a mixed soak of authql")
    parser.add_argument("--out", type=Path, help="results folder (bench/results; smoke: var/bench-smoke)")
    parser.add_argument("--label", default="", help="saved as <UTC date>-<label>.md (letters, digits, -)")
    parser.add_argument("--reference-env", type=Path, default=ROOT / "var" / "bench-env")
    return parser.parse_args(None if argv is None else list(argv))


def main(argv: Iterable[str] | None = None) -> int:
    args = parse(argv)
    if not all(char.isalnum() or char == "-" for char in args.label):
        raise SystemExit("bench: --label takes letters, digits and dashes")
    wrk_binary()  # before anything starts: says how to install it when missing
    base = SMOKE if args.smoke else FULL
    plan = Plan(
        runs=args.runs or base.runs,
        seconds=args.seconds or base.seconds,
        connections=args.connections or base.connections,
        password_seconds=args.seconds or base.password_seconds,
        mode=base.mode,
    )
    names = [name.strip() for name in args.apps.split(",") if name.strip()]
    if args.password_work_only:
        if args.no_password_work:
            raise SystemExit("bench: --password-work-only and --no-password-work contradict each other")
        names = ["authql"]
    out_dir = args.out or (ROOT / "var" / "bench-smoke" if args.smoke else ROOT / "bench" / "results")
    results = Results(started=now(), mode=plan.mode, machine=machine())
    with tempfile.TemporaryDirectory(prefix="authql-bench-") as temporary, contextlib.ExitStack() as stack:
        data = Path(temporary)
        services: list[EmbeddedService] = []
        apps: dict[str, App] = {}
        sink = flows.CodeSink(free_port())
        sink.start()
        try:
            services = [start_mongo(data), start_redis(data)]
            secret = os.urandom(48).hex()
            admin_key = os.urandom(24).hex()
            env = authql_env(
                dict(os.environ), services[0].url, services[1].url, secret, sink.port, data, admin_key
            )
            oidc = None
            social_client = ("bench-" + os.urandom(6).hex(), os.urandom(24).hex())
            if "authql" in names and not args.password_work_only:
                oidc = stack.enter_context(social.provider(data / "oidc-provider.log"))
                env.update(social.settings(oidc.issuer, *social_client))
            hidden = ("JWT_SECRET", "MONGO_URL", "REDIS_URL", "SMTP_PORT", "DATA_DIR", "ADMIN_API_KEY")
            results.settings = {
                name: value
                for name, value in env.items()
                if name.lower() in DEFAULTS and name not in hidden and not name.startswith("RATE_LIMIT_")
            }
            results.settings["RATE_LIMIT_*"] = "1000000/minute"
            apps = start_apps(names, env, data, args.reference_env, results)
            me = requests_for(apps, sink)
            if not args.password_work_only:
                interleaved(apps, me, plan, results)
            authql = apps.get("authql")
            accounts = (
                0
                if args.password_work_only
                else args.accounts
                if args.accounts is not None
                else (SMOKE_ACCOUNTS if args.smoke else admin_pages.ACCOUNTS)
            )
            if authql is not None and not args.password_work_only:
                passkey_sign_ins(authql, sink, plan, results)
            if authql is not None and oidc is not None:
                oidc.register_client(
                    f"{authql.base_url}/oauth/callback/{social.PROVIDER}",
                    client_id=social_client[0],
                    client_secret=social_client[1],
                )
                social_sign_ins(authql, oidc, plan, results)
            if authql is not None and not args.no_password_work:
                password_work(authql, me["authql"], sink, services, plan, results)
            if authql is not None and args.soak:
                soak(authql, me["authql"], sink, services[1].url, args.soak, plan, results)
            # Last: after 100,000 accounts are written, nx-27017 answered the bench's next
            # registrations SERVICE_UNAVAILABLE for a while (not yet known why).
            if authql is not None and accounts > 0:
                admin_users(authql, services[0].url, admin_key, accounts, plan, results)
        finally:
            for app in apps.values():
                app.stop()
            sink.stop()
            stop_services(services)
    results.machine["load average after"] = " ".join(f"{value:.2f}" for value in os.getloadavg())
    path = results.save(out_dir, args.label)
    print(results.markdown())
    print(f"bench: saved {path} and {path.with_suffix('.json')}")
    return 0
