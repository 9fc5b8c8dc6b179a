"""Registration, resend and login as a Hypothesis state machine (DESIGN.md "Registration").

Hypothesis drives random sequences of the public mutations against a real server
(uvicorn in a child process, real Redis, the MongoDB-wire server and the SMTP sink) and
keeps a model of what each answer must be. After every step the invariants read the
real state (Mongo `users`, the Redis flow hashes `reg:{<id>}`, the mailbox):

- no account exists for an email unless some flow of that email verified a code;
- at most one account per email, and exactly the accounts the model expects;
- a burnt flow answers FlowExpired to verify, even with its right code;
- the attempt count stored for a live flow never exceeds CODE_MAX_ATTEMPTS
  (and equals the number of guesses the model made);
- a RateLimited answer changes nothing: the flow's hash is identical before and
  after, no mail goes out, and the old code still verifies later.

Small limits (3 codes per address, 3 attempts, 1 s resend cooldown) and a pool of
two fresh emails per run reach the interesting corners in a few steps.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from budget import examples
from conftest import Mailbox, text_of
from conftest import test_settings as settings_with
from flows import COMPLETE, LOGIN, PROFILE, RESEND, SET_PASSWORD, START, VERIFY, new_email
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pymongo import MongoClient
from redis import Redis
from redis_client import sync_redis_client
from served import stop, wait_until_ready

from embedded import free_port
from resolvers.registration import PASSWORD_SETS_PER_FLOW

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parent.parent

CODE_MAX_ATTEMPTS = 3
CODES_PER_ADDRESS = 3
RESEND_COOLDOWN_SECONDS = 1
POOL_SIZE = 2
# Most flows share the first email, so two flows of one email race to complete.
EMAIL_INDEX = st.sampled_from([0, 0, 1])
MAX_STARTS = 4
REDIS_DB = 9
# Rules draw among these; the last one breaks the length policy.
PASSWORDS = ("correct horse battery staple", "another horse battery staple", "short")
WEAK = "short"
WRONG_PASSWORD = "certainly not the password"
# A login lockout (if the server has one) may answer RateLimited after this many failures.
LOCKOUT_AT_LEAST = 3
CODE_IN_MAIL = re.compile(r"^\s*(\d{6,10})\s*$", re.MULTILINE)

CODE_SENT, VERIFIED, PASSWORD_SET, DONE, BURNT = "CODE_SENT", "VERIFIED", "PASSWORD_SET", "DONE", "BURNT"


# ---------------------------------------------------------------- the running server


@dataclass
class Env:
    """One server for the whole test, and direct readers of its state."""

    http: httpx.Client
    redis: Redis
    users: Any  # pymongo collection
    mailbox: Mailbox

    def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body
        return next(iter(body["data"].values()))

    def flow_hash(self, flow_id: str) -> dict[bytes, bytes]:
        return self.redis.hgetall(f"reg:{{{flow_id}}}")

    def mails(self, email: str) -> int:
        return len(self.mailbox.received(email))

    def mail(self, email: str, number: int, timeout: float = 10.0) -> Any:
        """The `number`-th mail (1-based) sent to `email`, waiting for it."""
        deadline = time.monotonic() + timeout
        while len(self.mailbox.received(email)) < number:
            assert time.monotonic() < deadline, f"no mail #{number} for {email}"
            time.sleep(0.01)
        return self.mailbox.received(email)[number - 1]

    def accounts(self, emails: list[str]) -> dict[str, int]:
        """How many users documents each email has."""
        counts = dict.fromkeys(emails, 0)
        for user in self.users.find({"email": {"$in": emails}}, {"email": 1}):
            counts[user["email"]] += 1
        return counts


# The app runs in a child process: Beanie binds document classes per process, so a
# second app in the test process (and its shutdown, which rebinds them) would pull the
# documents of the other tests' apps onto a foreign event loop.
SERVE = """
import json, os, sys
import uvicorn
from server import create_app
from settings import Settings
settings = Settings(_env_file=None, **json.loads(os.environ["AUTHQL_STATEFUL_SETTINGS"]))
uvicorn.run(
    create_app(settings), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", proxy_headers=False
)
"""


@pytest.fixture(scope="module")
def env(
    backend_urls: dict[str, str], mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    # Its own Redis database: the hundreds of mails sent here must not count against the
    # global hourly mail cap (a Redis key shared by every app) that other tests' apps enforce.
    # (A cluster has database 0 only: there it shares it; the cap is generous everywhere.)
    redis_url = urlsplit(backend_urls["redis_url"])._replace(path=f"/{REDIS_DB}").geturl()
    app_settings = settings_with(
        backend_urls,
        mailbox,
        **({} if backend_urls.get("redis_cluster") else {"redis_url": redis_url}),
        mongo_db="authql_stateful_" + secrets.token_hex(4),
        mails_per_hour=1_000_000,
        code_resend_cooldown_seconds=RESEND_COOLDOWN_SECONDS,
        codes_per_address_per_hour=CODES_PER_ADDRESS,
        code_max_attempts=CODE_MAX_ATTEMPTS,
        # The cheapest argon2id the settings allow: the flows, not the hashing, are under test.
        argon2_time_cost=2,
        argon2_memory_kib=19_456,
        argon2_parallelism=1,
    )
    port = free_port()
    log_path = tmp_path_factory.mktemp("stateful") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port)],
            cwd=ROOT,
            env={**os.environ, "AUTHQL_STATEFUL_SETTINGS": json.dumps(app_settings.model_dump(mode="json"))},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    mongo: MongoClient[Any] = MongoClient(backend_urls["mongo_url"], serverSelectionTimeoutMS=5000)
    redis = sync_redis_client(app_settings, socket_timeout=5)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        wait_until_ready(process, f"http://127.0.0.1:{port}", log_path)
        yield Env(http=http, redis=redis, users=mongo[app_settings.mongo_db]["users"], mailbox=mailbox)
    finally:
        http.close()
        stop(process)
        try:
            mongo.drop_database(app_settings.mongo_db)
        except Exception:  # noqa: BLE001 - tidying only; the database name is unique anyway
            pass
        mongo.close()
        redis.close()


# ---------------------------------------------------------------- the model


@dataclass(eq=False)
class Flow:
    """What the model knows of one registration flow."""

    id: str
    email: str
    deliverable: bool
    resend_at: float  # epoch seconds, as the server answered
    codes: list[str | None] = field(default_factory=list)  # every code mailed, latest last
    stage: str = CODE_SENT
    attempts: int = 0
    token: str | None = None
    password: str | None = None
    password_sets: int = 0  # hashes paid for (at most PASSWORD_SETS_PER_FLOW)

    @property
    def code(self) -> str | None:
        return self.codes[-1] if self.codes else None

    def __repr__(self) -> str:
        return f"Flow({self.email.split('@')[0]}, {self.id[:8]}, {self.stage}, attempts={self.attempts})"


def epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def other_code(code: str | None) -> str:
    """A well-formed code that is not `code`."""
    if code is None:
        return "000000"
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


class Registrations(RuleBasedStateMachine):
    env: Env  # set by the test before the machine runs

    flows = Bundle("flows")

    def __init__(self) -> None:
        super().__init__()
        self.emails = [new_email() for _ in range(POOL_SIZE)]
        self.all_flows: list[Flow] = []
        self.starts = 0
        self.waited = False
        self.accounts: dict[str, str] = {}  # email -> password
        self.verified_emails: set[str] = set()
        self.failed_logins: dict[str, int] = dict.fromkeys(self.emails, 0)
        self.mails_seen: dict[str, int] = dict.fromkeys(self.emails, 0)

    # ------------------------------------------------------------ helpers

    def spelled(self, index: int, shout: bool) -> str:
        """The pool email as a client might type it; the server must normalise it."""
        email = self.emails[index]
        return f"  {email.upper()} " if shout else email

    def expect_no_mail(self, email: str) -> None:
        assert self.env.mails(email) == self.mails_seen[email], "a refused request sent a mail"

    def take_mail(self, email: str, deliverable: bool) -> str | None:
        """The mail the last successful start/resend produced, and the code in it."""
        self.mails_seen[email] += 1
        message = self.env.mail(email, self.mails_seen[email])
        assert self.env.mails(email) == self.mails_seen[email], "one request, more than one mail"
        match = CODE_IN_MAIL.search(text_of(message))
        if deliverable:
            assert match, "a registration for a new address mailed no code"
            return match.group(1)
        assert match is None, "an address with an account was mailed a code"
        return None

    def unchanged_by_refusal(self, flow: Flow, before: dict[bytes, bytes]) -> None:
        assert self.env.flow_hash(flow.id) == before, "a RateLimited answer changed the flow"
        self.expect_no_mail(flow.email)

    def token_of(self, flow: Flow) -> str:
        # A never-verified flow has no token: a guessed one (right id, made-up secret) must open nothing.
        return flow.token or f"{flow.id}.{'A' * 43}"

    # ------------------------------------------------------------ rules

    # A few flows per run, each with room to be resent, guessed at, burnt or completed.
    @precondition(lambda self: self.starts < MAX_STARTS)
    @rule(target=flows, index=EMAIL_INDEX, shout=st.booleans())
    def start(self, index: int, shout: bool) -> Any:
        self.starts += 1
        email = self.emails[index]
        result = self.env.call(START, {"email": self.spelled(index, shout)})
        if self.mails_seen[email] >= CODES_PER_ADDRESS:
            assert result["__typename"] == "RateLimited", result
            assert result["retryAfterSeconds"] >= 1, result
            self.expect_no_mail(email)
            return multiple()
        assert result["__typename"] == "RegistrationStarted", result
        deliverable = email not in self.accounts
        flow = Flow(
            id=result["registrationId"],
            email=email,
            deliverable=deliverable,
            resend_at=epoch(result["resendAvailableAt"]),
        )
        flow.codes.append(self.take_mail(email, deliverable))
        self.all_flows.append(flow)
        return flow

    @rule(flow=flows, wait=st.booleans())
    def resend(self, flow: Flow, wait: bool) -> None:
        # Sit out the cooldown, at most once a run: as if its time had passed, the stored
        # resend time moves back by what is left of it, and so does the model's (the server's
        # answered time must still be the one it then lets the resend through at).
        quota_left = self.mails_seen[flow.email] < CODES_PER_ADDRESS
        if wait and not self.waited and flow.stage == CODE_SENT and quota_left:
            self.waited = True
            left_ms = int((max(0.0, flow.resend_at - time.time()) + 0.02) * 1000) + 1
            self.env.redis.hincrby(f"reg:{{{flow.id}}}", "resend_at_ms", -left_ms)
            flow.resend_at -= left_ms / 1000
        before = self.env.flow_hash(flow.id)
        sent_at = time.time()
        result = self.env.call(RESEND, {"id": flow.id})
        answered_at = time.time()
        kind = result["__typename"]
        if flow.stage != CODE_SENT:
            assert kind == "FlowExpired", result
            self.expect_no_mail(flow.email)
            return
        # The server's clock reads somewhere in [sent_at, answered_at]; 5 ms for rounding.
        if self.mails_seen[flow.email] >= CODES_PER_ADDRESS or answered_at < flow.resend_at - 0.005:
            expected = {"RateLimited"}
        elif sent_at >= flow.resend_at + 0.005:
            expected = {"RegistrationCodeSent"}
        else:  # the cooldown ended while the request was in flight
            expected = {"RateLimited", "RegistrationCodeSent"}
        assert kind in expected, (expected, result)
        if kind == "RateLimited":
            assert result["retryAfterSeconds"] >= 1, result
            self.unchanged_by_refusal(flow, before)
            return
        flow.resend_at = epoch(result["resendAvailableAt"])
        flow.codes.append(self.take_mail(flow.email, flow.deliverable))
        # The attempt count is the flow's, not the code's: a resend buys no guesses.
        assert int(self.env.flow_hash(flow.id)[b"attempts"]) == flow.attempts

    def verify(self, flow: Flow, code: str, right: bool) -> None:
        before = self.env.flow_hash(flow.id)
        result = self.env.call(VERIFY, {"id": flow.id, "code": code})
        kind = result["__typename"]
        if kind == "RateLimited":  # only a per-client limit could say so; it must change nothing
            self.unchanged_by_refusal(flow, before)
            return
        if flow.stage != CODE_SENT:
            assert kind == "FlowExpired", result
            return
        flow.attempts += 1
        if right:
            assert kind == "RegistrationVerified", result
            flow.stage = VERIFIED
            flow.token = result["registrationToken"]
            self.verified_emails.add(flow.email)
            return
        assert kind == "InvalidCode", result
        assert result["attemptsLeft"] == CODE_MAX_ATTEMPTS - flow.attempts, result
        if flow.attempts >= CODE_MAX_ATTEMPTS:
            flow.stage = BURNT

    @rule(flow=flows)
    def verify_right_code(self, flow: Flow) -> None:
        # An undeliverable flow's code was never mailed: no code we can send is right.
        right = flow.code is not None
        self.verify(flow, flow.code if right else other_code(None), right=right and flow.stage == CODE_SENT)

    @rule(flow=flows)
    def verify_wrong_code(self, flow: Flow) -> None:
        self.verify(flow, other_code(flow.code), right=False)

    @rule(flow=flows)
    def verify_superseded_code(self, flow: Flow) -> None:
        """A code a resend replaced is just a wrong code (or a never-sent one, if none was replaced)."""
        old = [code for code in flow.codes[:-1] if code is not None and code != flow.code]
        self.verify(flow, old[-1] if old else other_code(flow.code), right=False)

    @rule(flow=flows, password=st.sampled_from(PASSWORDS))
    def set_password(self, flow: Flow, password: str) -> None:
        result = self.env.call(SET_PASSWORD, {"token": self.token_of(flow), "password": password})
        kind = result["__typename"]
        if flow.token is None or flow.stage not in (VERIFIED, PASSWORD_SET):
            assert kind == "FlowExpired", result
            return
        if password == WEAK:
            assert kind == "WeakPassword", result
            return
        if flow.password_sets == PASSWORD_SETS_PER_FLOW:
            assert kind == "RateLimited", result  # the last password set stays
            return
        assert kind == "RegistrationPasswordSet", result
        flow.password_sets += 1
        flow.stage = PASSWORD_SET
        flow.password = password

    @rule(flow=flows)
    def complete(self, flow: Flow) -> None:
        result = self.env.call(COMPLETE, {"token": self.token_of(flow), "profile": PROFILE})
        kind = result["__typename"]
        if flow.token is None or flow.stage != PASSWORD_SET:
            assert kind == "FlowExpired", result
            return
        flow.stage = DONE
        if flow.email in self.accounts:  # another flow of this email won
            assert kind == "AccountExists", result
            return
        assert kind == "AuthPayload", result
        assert result["user"]["email"] == flow.email, result
        assert flow.password is not None
        self.accounts[flow.email] = flow.password

    @rule(flow=flows)
    def advance(self, flow: Flow) -> None:
        """The next step a person would take on this flow: makes deep states likely."""
        if flow.stage == CODE_SENT:
            self.verify_right_code(flow)
        elif flow.stage == VERIFIED:
            self.set_password(flow, PASSWORDS[len(self.all_flows) % 2])
        elif flow.stage == PASSWORD_SET:
            self.complete(flow)
        else:  # done or burnt: try the account
            self.login(self.emails.index(flow.email), shout=False, right=True)

    @precondition(lambda self: self.all_flows)  # before any registration every login fails alike
    @rule(index=EMAIL_INDEX, shout=st.booleans(), right=st.booleans())
    def login(self, index: int, shout: bool, right: bool) -> None:
        email = self.emails[index]
        password = self.accounts.get(email, PASSWORDS[0]) if right else WRONG_PASSWORD
        result = self.env.call(LOGIN, {"email": self.spelled(index, shout), "password": password})
        kind = result["__typename"]
        if kind == "RateLimited":
            assert self.failed_logins[email] >= LOCKOUT_AT_LEAST, result
            return
        if right and email in self.accounts:
            assert kind == "AuthPayload", result
            assert result["user"]["email"] == email, result
            return
        # Unknown email, wrong password, or a registration not completed yet.
        assert kind == "InvalidCredentials", result
        self.failed_logins[email] += 1

    # ------------------------------------------------------------ invariants

    @invariant()
    def accounts_only_from_verified_flows(self) -> None:
        for email, count in self.env.accounts(self.emails).items():
            assert count <= 1, f"{count} accounts for {email}"
            if count:
                assert email in self.verified_emails, f"an account for {email} without a verified code"
            assert bool(count) == (email in self.accounts), (
                f"account of {email}: db {count}, model {self.accounts}"
            )

    @invariant()
    def stored_flows_match_the_model(self) -> None:
        for flow in self.all_flows:
            stored = self.env.flow_hash(flow.id)
            if flow.stage in (DONE, BURNT):
                assert not stored, f"{flow} is still stored: {stored}"
                continue
            assert stored, f"{flow} vanished from Redis"
            attempts = int(stored[b"attempts"])
            assert attempts <= CODE_MAX_ATTEMPTS, f"{flow}: {attempts} attempts stored"
            assert attempts == flow.attempts, f"{flow}: {attempts} attempts stored"
            assert stored[b"stage"].decode() == flow.stage, f"{flow}: stored stage {stored[b'stage']!r}"

    @invariant()
    def burnt_flows_never_verify(self) -> None:
        for flow in self.all_flows:
            if flow.stage == BURNT:
                result = self.env.call(VERIFY, {"id": flow.id, "code": flow.code or other_code(None)})
                assert result["__typename"] == "FlowExpired", f"burnt {flow} answered {result}"


def test_registration_state_machine(env: Env) -> None:
    Registrations.env = env
    run_state_machine_as_test(
        Registrations,
        settings=settings(
            # tests/budget.py: AUTHQL_TEST_LONG=1 runs ten times as many sequences.
            max_examples=examples(10, 100),
            stateful_step_count=40,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
