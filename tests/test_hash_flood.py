"""Password hashing cannot be turned into an outage: a registration flow pays for a few
hashes only, a flood of hash-costing requests is refused at once past the queue bound
(so a legitimate login stays fast), and a hash whose client hung up is never run.

The floods go to the production command on a real socket in a child process
(tests/served.py), so the server's event loop and hash threads are its own and a
client that hangs up really closes its connection.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import COMPLETE, LOGIN, PASSWORD, PROFILE, SET_PASSWORD, data, gql, new_email, register, verified
from served import served

from resolvers.registration import PASSWORD_SETS_PER_FLOW
from security.passwords import HASHING_NICENESS
from settings import ConfigurationError, Settings, load_settings

FLOOD = 60  # concurrent hash-costing requests
WORKERS = 2
COSTLY_ARGON2 = {"argon2_time_cost": 3, "argon2_memory_kib": 65_536, "argon2_parallelism": 1}


async def hash_flood_login(client: httpx.AsyncClient) -> str:
    """A login of an unknown address (one dummy argon2 verify): its outcome."""
    body = await gql(client, LOGIN, {"email": new_email(), "password": "not the password at all"})
    if body.get("errors"):
        return body["errors"][0]["extensions"]["code"]
    return body["data"]["login"]["__typename"]


async def legitimate_login(client: httpx.AsyncClient, email: str) -> tuple[float, int]:
    """Seconds until `email` is signed in, retrying at once on SERVICE_UNAVAILABLE; and the tries."""
    began = time.perf_counter()
    for tries in range(1, 1000):
        body = await gql(client, LOGIN, {"email": email, "password": PASSWORD})
        if not body.get("errors"):
            assert body["data"]["login"]["__typename"] == "AuthPayload", body
            return time.perf_counter() - began, tries
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", body
        await asyncio.sleep(0.02)
    raise AssertionError("never signed in")


async def one_login_time(client: httpx.AsyncClient, email: str) -> float:
    """The median time of a login with nothing else going on: about one hash."""
    return statistics.median([(await legitimate_login(client, email))[0] for _ in range(5)])


# ---------------------------------------------------------------- settings


def test_the_hash_queue_holds_8_per_worker_unless_told(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("PASSWORD_WORKERS", "3")
    assert load_settings().password_queue_bound == 24
    monkeypatch.setenv("PASSWORD_QUEUE_LIMIT", "5")
    assert load_settings().password_queue_bound == 5


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PASSWORD_QUEUE_LIMIT", "0"),
        ("PASSWORD_QUEUE_LIMIT", "10001"),
        ("RATE_LIMIT_SET_REGISTRATION_PASSWORD", "many per minute"),
    ],
)
def test_hash_budgets_out_of_bounds_are_refused_at_start_up(monkeypatch, tmp_path, variable, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings()


# ---------------------------------------------------------------- per flow


async def test_a_registration_flow_pays_for_a_few_password_hashes_even_when_raced(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox)) as client:
        email = new_email()
        token = await verified(client, mailbox, email)
        variables = {"token": token, "password": PASSWORD}
        answers = await asyncio.gather(*(data(client, SET_PASSWORD, variables) for _ in range(20)))
        kinds = [answer["__typename"] for answer in answers]
        assert kinds.count("RegistrationPasswordSet") == PASSWORD_SETS_PER_FLOW, kinds
        assert kinds.count("RateLimited") == 20 - PASSWORD_SETS_PER_FLOW, kinds
        refused = next(answer for answer in answers if answer["__typename"] == "RateLimited")
        assert 1500 <= refused["retryAfterSeconds"] <= 1800, refused  # until the flow ends
        assert "complete it" in refused["message"]
        # Spent means spent, aliases included; the flow still completes with its password.
        field = "setRegistrationPassword(registrationToken: $token, password: $password) { __typename }"
        aliased = f"mutation($token: String!, $password: String!) {{ a: {field} b: {field} c: {field} }}"
        body = await gql(client, aliased, variables)
        assert [answer["__typename"] for answer in body["data"].values()] == ["RateLimited"] * 3, body
        payload = await data(client, COMPLETE, {"token": token, "profile": PROFILE})
        assert payload["__typename"] == "AuthPayload", payload
        signed_in = await data(client, LOGIN, {"email": email, "password": PASSWORD})
        assert signed_in["__typename"] == "AuthPayload", signed_in


# ---------------------------------------------------------------- the queue bound


@pytest.mark.serial
@pytest.mark.subprocess
async def test_a_hash_flood_leaves_a_legitimate_login_fast(backend_urls, mailbox, tmp_path):
    # Hashes at full memory cost, so that hashing, not the flood's HTTP handling, is what a
    # queued login would wait for.
    settings = settings_with(
        backend_urls, mailbox, password_workers=WORKERS, password_queue_limit=4, **COSTLY_ARGON2
    )
    limits = httpx.Limits(max_connections=FLOOD + 10, max_keepalive_connections=FLOOD + 10)
    async with (
        served(settings, tmp_path / "server.log") as url,
        httpx.AsyncClient(base_url=url, timeout=60) as user,
        httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as attacker,
    ):
        email = new_email()
        await register(user, mailbox, email)
        alone = await one_login_time(user, email)

        flood = [asyncio.ensure_future(hash_flood_login(attacker)) for _ in range(FLOOD)]
        await next(asyncio.as_completed(flood))  # the server is busy with the flood
        await asyncio.sleep(0.2)
        latency, tries = await legitimate_login(user, email)
        outcomes = await asyncio.gather(*flood)

    # Accepted hashes wait behind at most 4 queued + 2 running: about 3 hash times, plus the
    # flood's other work on the server's event loop. Queued without bound, the login would
    # wait behind most of the flood: about FLOOD / WORKERS = 30 hash times.
    assert latency < 0.4 * (FLOOD / WORKERS) * alone, (latency, alone, tries)
    assert outcomes.count("SERVICE_UNAVAILABLE") >= FLOOD // 2, outcomes
    assert set(outcomes) <= {"SERVICE_UNAVAILABLE", "InvalidCredentials"}, set(outcomes)


@pytest.mark.serial
@pytest.mark.subprocess
async def test_hashes_of_clients_that_hung_up_are_not_run(backend_urls, mailbox, tmp_path):
    # A queue long enough for the whole flood: only the hang-ups can spare the hashes. Hashes
    # of 64 MiB make the flood's hashing, not its HTTP handling, what a user would wait for.
    settings = settings_with(
        backend_urls,
        mailbox,
        password_workers=WORKERS,
        password_queue_limit=1000,
        argon2_memory_kib=65_536,
    )
    flood = FLOOD // 2
    limits = httpx.Limits(max_connections=flood + 10, max_keepalive_connections=flood + 10)
    async with (
        served(settings, tmp_path / "server.log") as url,
        httpx.AsyncClient(base_url=url, timeout=60) as user,
        httpx.AsyncClient(base_url=url, timeout=0.3, limits=limits) as impatient,
    ):
        email = new_email()
        await register(user, mailbox, email)
        alone = await one_login_time(user, email)

        outcomes: list[Any] = await asyncio.gather(
            *(hash_flood_login(impatient) for _ in range(flood)), return_exceptions=True
        )
        hung_up = sum(isinstance(outcome, httpx.TimeoutException) for outcome in outcomes)
        assert hung_up >= flood // 2, outcomes
        latency, tries = await legitimate_login(user, email)

    # Run for nobody, the hashes left would keep both workers busy for about
    # hung_up / WORKERS hash times; dropped, only those already running finish first.
    assert tries == 1
    assert latency < 0.4 * (hung_up / WORKERS) * alone, (latency, alone, hung_up)


# ---------------------------------------------------------------- CPU priority


def server_pid(url: str) -> int:
    """The pid of the uvicorn child serving `url` (its command line names the port)."""
    port = url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"server:app" in arguments and port.encode() in arguments:
            return int(entry.name)
    raise AssertionError(f"no server process on port {port}")


def nice_of(pid: int, thread: int) -> int:
    """A thread's nice value: field 19 of /proc/<pid>/task/<tid>/stat (after the `(comm)`)."""
    stat = Path(f"/proc/{pid}/task/{thread}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


@pytest.mark.subprocess
async def test_hashing_threads_yield_the_cpu_to_the_event_loop(backend_urls, mailbox, tmp_path):
    # While logins keep every core hashing, reads must still get the CPU they ask for: the
    # kernel gives a nice-19 thread about a seventieth of a nice-0 one's share.
    settings = settings_with(backend_urls, mailbox, password_workers=WORKERS)
    async with (
        served(settings, tmp_path / "server.log") as url,
        httpx.AsyncClient(base_url=url, timeout=60) as user,
    ):
        await register(user, mailbox)  # hashes a password: the hashing threads exist now
        pid = server_pid(url)
        nice = {int(task.name): nice_of(pid, int(task.name)) for task in Path(f"/proc/{pid}/task").iterdir()}

    assert nice.pop(pid) == 0  # the event loop's thread, the process's first
    assert HASHING_NICENESS in nice.values(), nice  # the thread that hashed (the pool starts them lazily)
    assert set(nice.values()) <= {0, HASHING_NICENESS}, nice


# ---------------------------------------------------------------- two-factor operations


TWO_FACTOR_OPERATIONS = ("enroll_totp", "confirm_totp", "disable_totp", "regenerate_recovery_codes")
ATTACKER, VICTIM = "198.51.100.66", "198.51.100.77"  # named through X-Forwarded-For by a trusted proxy
FLOOD_QUERIES = {
    "disableTotp": 'mutation($p: String!) { disableTotp(password: $p, code: "000000") { __typename } }',
    "enrollTotp": "mutation($p: String!) { enrollTotp(password: $p) { __typename } }",
}


async def as_client(
    client: httpx.AsyncClient, ip: str, query: str, variables: dict[str, Any], token: str | None = None
) -> str:
    """One operation from client `ip`: the answer's type, or the top-level error's code."""
    headers = {"X-Forwarded-For": ip, **({"Authorization": f"Bearer {token}"} if token else {})}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    if body.get("errors"):
        return str(body["errors"][0]["extensions"]["code"])
    return str(next(iter(body["data"].values()))["__typename"])


async def test_a_flood_of_two_factor_operations_from_one_ip_stops_at_its_limit(
    backend_urls, mailbox, tmp_path
):
    """Black-box attack 1: four accounts of one client flood disableTotp and enrollTotp with
    their right password over 20 connections. Past the per-IP limits they are refused
    before any argon2 work, so a victim elsewhere signs in at the first try meanwhile."""
    real_limits = {
        f"rate_limit_{operation}": Settings.model_fields[f"rate_limit_{operation}"].default
        for operation in TWO_FACTOR_OPERATIONS
    }
    settings = settings_with(
        backend_urls,
        mailbox,
        password_workers=WORKERS,
        password_queue_limit=4,
        trusted_proxies="127.0.0.1/32",
        **real_limits,
    )
    allowed = {
        name: int(real_limits[f"rate_limit_{operation}"].split("/")[0])
        for name, operation in (("disableTotp", "disable_totp"), ("enrollTotp", "enroll_totp"))
    }
    limits = httpx.Limits(max_connections=30, max_keepalive_connections=30)
    async with (
        served(settings, tmp_path / "server.log") as url,
        httpx.AsyncClient(base_url=url, timeout=60) as victim,
        httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as attacker,
    ):
        victim_email = new_email()
        await register(victim, mailbox, victim_email)
        tokens = [(await register(attacker, mailbox))["accessToken"] for _ in range(4)]
        outcomes: dict[str, list[str]] = {name: [] for name in FLOOD_QUERIES}
        stop = asyncio.Event()

        async def flood(name: str, token: str) -> None:
            while not stop.is_set():
                outcomes[name].append(
                    await as_client(attacker, ATTACKER, FLOOD_QUERIES[name], {"p": PASSWORD}, token)
                )

        names = list(FLOOD_QUERIES)
        loops = [asyncio.ensure_future(flood(names[i % 2], tokens[i % 4])) for i in range(20)]
        try:
            deadline = time.monotonic() + 60
            while not all("RateLimited" in answers for answers in outcomes.values()):
                assert time.monotonic() < deadline, {name: set(answers) for name, answers in outcomes.items()}
                await asyncio.sleep(0.05)
            # The hashes let through drain; from then on the flood costs no hash at all.
            first, _ = await victim_login(victim, victim_email)
            began = sum(len(answers) for answers in outcomes.values())
            second, tries = await victim_login(victim, victim_email)
            during = sum(len(answers) for answers in outcomes.values()) - began
        finally:
            stop.set()
            await asyncio.gather(*loops)

    assert tries == 1 and during > 0, (tries, during, first, second)
    for name, answers in outcomes.items():
        verified = [answer for answer in answers if answer not in ("RateLimited", "SERVICE_UNAVAILABLE")]
        assert len(verified) <= allowed[name], (name, len(verified))
        assert answers.count("RateLimited") >= len(answers) - allowed[name], (name, set(answers))


async def victim_login(client: httpx.AsyncClient, email: str) -> tuple[float, int]:
    """As legitimate_login, from the victim's own address."""
    began = time.perf_counter()
    for tries in range(1, 200):
        answer = await as_client(client, VICTIM, LOGIN, {"email": email, "password": PASSWORD})
        if answer == "AuthPayload":
            return time.perf_counter() - began, tries
        assert answer == "SERVICE_UNAVAILABLE", answer
        await asyncio.sleep(0.02)
    raise AssertionError("never signed in")
