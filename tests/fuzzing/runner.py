"""A live server as a fuzzing target: its schema by introspection, each kind of fuzzing, the tally."""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.generation import GenerationMode

from tests.fuzzing.account import WHO, Account, GraphQLClient
from tests.fuzzing.policy import (
    DISRUPTIVE,
    FLOW_STEPS,
    GRAPHQL_PATH,
    HTTP_TIMEOUT,
    PROTECTED,
    check_response,
    sent_text,
)
from tests.fuzzing.strategies import (
    EXPLICIT_REQUESTS,
    RawRequest,
    TokenFacts,
    authorization_headers,
    raw_requests,
)
from tests.fuzzing.values import CODE_IN_MAIL, Pool, fuzz_cases, with_root_typename


@dataclass
class Stats:
    cases: Counter[str] = field(default_factory=Counter)
    outcomes: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)

    def record(self, key: str, payload: dict[str, Any] | None) -> None:
        """One case: its error codes, else the __typename of each root field answered."""
        self.cases[key] += 1
        codes = [
            (error.get("extensions") or {}).get("code", "?")
            for error in (payload or {}).get("errors") or []
            if isinstance(error, dict)
        ]
        data = (payload or {}).get("data") or {}
        answers = [
            value.get("__typename", "data") if isinstance(value, dict) else "data" for value in data.values()
        ]
        self.outcomes[key].update(codes or answers or ["data"])

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def summary(self) -> str:
        lines = [f"{'cases':>6}  fuzzed  (outcomes)"]
        for key, count in sorted(self.cases.items()):
            outcomes = ", ".join(f"{name} {n}" for name, n in self.outcomes[key].most_common())
            lines.append(f"{count:>6}  {key}  ({outcomes})")
        lines.append(f"{self.total:>6}  cases in all, {len(self.failures)} failing")
        return "\n".join(lines)


class Target:
    """A live authql server, its schema read by introspection over HTTP, and what the fuzzer
    knows about it. Blocking: call from a thread, not from the server's event loop."""

    def __init__(
        self,
        base_url: str,
        *,
        read_code: Callable[[str], str] | None = None,
        codes: Callable[[], list[str]] | None = None,
        token: str | None = None,
        facts: TokenFacts | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "authql-fuzz"
        self.schema = schemathesis.graphql.from_url(self.base_url + GRAPHQL_PATH, timeout=HTTP_TIMEOUT)
        self.pool = Pool(codes)
        self.client = GraphQLClient(self.base_url, self.session)
        self.account = Account(self.client, self.pool, read_code, token) if read_code or token else None
        self.facts = facts or TokenFacts()
        self.facts.account = self.account
        self.stats = Stats()
        if self.account is not None:
            self.account.token()

    def close(self) -> None:
        self.session.close()

    def operations(self) -> list[str]:
        return [result.ok().label for result in self.schema.get_all_operations()]

    def has_arguments(self, label: str) -> bool:
        return bool(self.schema.find_operation_by_label(label).definition.raw.args)

    def fuzz_operation(
        self,
        label: str,
        *,
        mode: GenerationMode = GenerationMode.POSITIVE,
        authenticated: bool = False,
        examples: int = 30,
        seed: int | None = None,
    ) -> None:
        """`examples` schemathesis cases for `label`; raises the first policy violation (shrunk)."""
        if authenticated and self.account is None:
            raise ValueError("no account to sign in with: pass read_code or token")
        operation = self.schema.find_operation_by_label(label)
        field_name = label.split(".", 1)[1]
        key = f"{label} {mode.value}" + (" signed-in" if authenticated else "")
        if mode is GenerationMode.POSITIVE and field_name in FLOW_STEPS and self.account is not None:
            self.account.seed_flows()
        strategy = fuzz_cases(operation, mode, self.pool if mode is GenerationMode.POSITIVE else None)

        def send(case: Any) -> None:
            case.body = with_root_typename(case.body)  # for the summary: which union member came back
            headers = {}
            if authenticated:
                assert self.account is not None
                headers["Authorization"] = f"Bearer {self.account.token()}"
            response = case.call(session=self.session, headers=headers, timeout=HTTP_TIMEOUT)
            negative = case.meta is not None and case.meta.generation.mode.is_negative
            payload = check_response(
                response.status_code,
                response.content.decode("utf-8", "replace"),
                sent=sent_text(case.body),
                field_name=field_name,
                anonymous_protected=field_name in PROTECTED and not authenticated,
                negative=negative,
            )
            self.stats.record(key, payload)
            self.pool.capture(payload)
            if field_name in DISRUPTIVE and self.account is not None:
                self.account.dirty = True

        self._run(hypothesis.given(strategy)(send), examples, seed)

    def fuzz_authorization(self, examples: int = 60, seed: int | None = None) -> None:
        """Protected fields with fuzzed Authorization headers: data or UNAUTHENTICATED, nothing else."""

        def send(authorization: str) -> None:
            response = self.session.post(
                self.base_url + GRAPHQL_PATH,
                json={"query": WHO},
                headers={"Authorization": authorization},
                timeout=HTTP_TIMEOUT,
            )
            payload = check_response(response.status_code, response.text, sent=WHO + "\n" + authorization)
            self.stats.record("Authorization header", payload)

        self._run(hypothesis.given(authorization_headers(self.facts))(send), examples, seed)

    def fuzz_requests(self, examples: int = 80, seed: int | None = None, explicit: bool = True) -> None:
        """Whole HTTP requests: bodies, content types, variables, GET, batches, oversize;
        EXPLICIT_REQUESTS first unless `explicit` is false."""

        def send(request: RawRequest) -> None:
            self.send_request(request)

        test = hypothesis.given(raw_requests())(send)
        for request in EXPLICIT_REQUESTS.values() if explicit else ():
            test = hypothesis.example(request)(test)
        self._run(test, examples, seed)

    def send_request(self, request: RawRequest) -> dict[str, Any] | None:
        """One whole request, its response checked against the policy; the decoded body."""
        response = self.session.request(
            request.method,
            self.base_url + GRAPHQL_PATH,
            params=request.params,
            data=request.body,
            headers=request.headers,
            timeout=HTTP_TIMEOUT,
        )
        payload = check_response(
            response.status_code,
            response.content.decode("utf-8", "replace"),
            sent=request.describe() + "\n" + sent_text(_document_of(request)),
        )
        self.stats.record("HTTP requests", payload)
        if self.account is not None:
            self.account.dirty = True  # a valid document may have logged out a captured session
        return payload

    def _run(self, test: Callable[[], None], examples: int, seed: int | None) -> None:
        test = hypothesis.settings(
            max_examples=examples,
            derandomize=seed is None,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
            print_blob=False,
        )(test)
        if seed is not None:
            test = hypothesis.seed(seed)(test)
        test()


def _document_of(request: RawRequest) -> str | None:
    if request.params:
        return request.params.get("query")
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        body = json.loads(request.body or b"")
        document = body.get("query") if isinstance(body, dict) else None
        return document if isinstance(document, str) else None
    return None


def code_in(message: EmailMessage) -> str | None:
    part = message.get_body(preferencelist=("plain",))
    match = CODE_IN_MAIL.search(part.get_content()) if part is not None else None
    return match.group(1) if match else None


def mail_readers(
    messages: Callable[[], list[EmailMessage]], timeout: float = 10.0
) -> tuple[Callable[[str], str], Callable[[], list[str]]]:
    """(read_code(email): the code of the first mail to `email`, waiting for it; codes(): the
    codes of every mail so far) over a list of received messages another thread appends to."""

    # What each message holds, read once: `codes` runs whenever a case draws a code, and
    # parsing 40 bodies each time cost more than the case's request. Keyed by the message
    # object's id, which the list that holds it keeps alive.
    read: dict[int, tuple[str, str | None]] = {}

    def to_and_code(message: EmailMessage) -> tuple[str, str | None]:
        if id(message) not in read:
            read[id(message)] = (str(message["To"]), code_in(message))
        return read[id(message)]

    def read_code(email: str) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(messages()):
                to, code = to_and_code(message)
                if to == email and code:
                    return code
            time.sleep(0.02)
        raise AssertionError(f"no mail with a code for {email}")

    def codes() -> list[str]:
        return [code for message in list(messages())[-40:] if (code := to_and_code(message)[1])]

    return read_code, codes


def run_all(target: Target, *, examples: int, seed: int | None, only: str | None = None) -> Stats:
    """Every kind of fuzzing at `examples` per operation and kind; failures are collected."""
    jobs: list[tuple[str, Callable[[int | None], None]]] = []
    for label in target.operations():
        if only and only.lower() not in label.lower():
            continue
        jobs.append((f"{label} positive", _job(target.fuzz_operation, label, examples=examples)))
        if target.has_arguments(label):
            negative = _job(target.fuzz_operation, label, mode=GenerationMode.NEGATIVE, examples=examples)
            jobs.append((f"{label} negative", negative))
        if label.split(".", 1)[1] in PROTECTED and target.account is not None:
            signed_in = _job(target.fuzz_operation, label, authenticated=True, examples=examples)
            jobs.append((f"{label} signed-in", signed_in))
    if not only:
        jobs.append(("Authorization header", _job(target.fuzz_authorization, examples=examples)))
        jobs.append(("HTTP requests", _job(target.fuzz_requests, examples=examples)))
    for index, (name, job) in enumerate(jobs):
        started = time.monotonic()
        try:
            job(None if seed is None else seed + index)
            status = "ok"
        except Exception as error:  # every kind of failure is reported, then the next job runs
            status = "FAILED"
            target.stats.failures.append(f"{name}: {type(error).__name__}: {error}")
        print(f"[{index + 1}/{len(jobs)}] {name}: {status} ({time.monotonic() - started:.1f}s)", flush=True)
    return target.stats


def _job(method: Callable[..., None], *args: Any, **kwargs: Any) -> Callable[[int | None], None]:
    return lambda seed: method(*args, seed=seed, **kwargs)
