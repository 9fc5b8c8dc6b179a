"""The Prometheus metrics authql records, and their exposition for `GET /metrics`.

Every label value comes from the server, never from the client: operation names are
the schema's root fields, outcomes its type names or our error codes, backends a
fixed set. So the number of series stays bounded whatever clients send.

Under `uvicorn --workers N`, set PROMETHEUS_MULTIPROC_DIR (an empty directory, the
same for every worker, emptied before each start): each process then writes its
values to files there, and whichever worker answers a scrape adds them all up.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"

OPERATIONS = Counter(
    "authql_graphql_operations",
    "Root fields resolved, by field and outcome (the result's type name, or the top-level error code).",
    ["operation", "outcome"],
)
OPERATION_SECONDS = Histogram(
    "authql_graphql_operation_seconds",
    "Time to resolve a root field, by field (the whole answer of an operation of one field).",
    ["operation"],
)
REQUESTS_REFUSED = Counter(
    "authql_graphql_requests_refused",
    "GraphQL requests answered with an error before any root field ran, by error code.",
    ["code"],
)
RATE_LIMITED = Counter(
    "authql_rate_limited",
    "Answers `RateLimited` because a client IP used up an operation's limit, by operation.",
    ["operation"],
)
LOCKOUTS = Counter(
    "authql_lockouts",
    "Failed password checks that locked an address, by operation.",
    ["operation"],
)
LOCKED_REFUSALS = Counter(
    "authql_lockout_refusals",
    "Password checks refused without verifying because the address was locked, by operation.",
    ["operation"],
)
CODE_LIMITS = Counter(
    "authql_code_limits",
    "Emailed-code requests refused by a budget, and budgets crossed, by budget: mail_breaker and "
    "code_breaker are the global ones (every address), code_failures_ceiling one address's from "
    "every client, the others one client's.",
    ["budget"],
)
BACKEND_ERRORS = Counter(
    "authql_backend_errors",
    "Root fields answered SERVICE_UNAVAILABLE because a backend was down or hung, by backend.",
    ["backend"],
)
PASSWORD_HASHES_WAITING = Gauge(
    "authql_password_hashes_waiting",
    "Password hashes (or verifies) waiting for a hashing thread.",
    multiprocess_mode="livesum",
)
PASSWORD_HASH_SECONDS = Histogram(
    "authql_password_hash_seconds",
    "Time a hashing thread spent on one argon2id hash or verify, by kind.",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PASSWORD_HASHES_REFUSED = Counter(
    "authql_password_hashes_refused",
    "Hashes refused at once (SERVICE_UNAVAILABLE) because PASSWORD_QUEUE_LIMIT were already waiting.",
)
SESSIONS_OPENED = Counter("authql_sessions_opened", "Sessions opened (logins and completed registrations).")
SESSIONS_REVOKED = Counter(
    "authql_sessions_revoked",
    "Sessions ended before their time: logout, revocation, password change or reset, "
    "account deletion, refresh-token reuse.",
)
MAILS_SENT = Counter("authql_mails_sent", "Mails the outbox handed to the mailer (SMTP accepted them).")
MAILS_RETRIED = Counter(
    "authql_mails_retried", "Outbox deliveries that failed and were put back for a later try."
)
MAILS_ABANDONED = Counter(
    "authql_mails_abandoned", "Mails given up after MAIL_MAX_ATTEMPTS tries (or that no longer decrypt)."
)
# Per webhook endpoint: its id is made by the server, and there are as many as the operator made.
WEBHOOK_DELIVERIES = Counter(
    "authql_webhook_deliveries",
    "Webhook tries by endpoint id and outcome: delivered, retried (failed, put back), abandoned.",
    ["endpoint", "outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "authql_webhook_seconds",
    "Time from sending a webhook to its answer (or failure), by endpoint id.",
    ["endpoint"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HOOK_FAILURES = Counter(
    "authql_hook_failures",
    "Synchronous hook calls that failed or were late (answered SERVICE_UNAVAILABLE), by hook.",
    ["hook"],
)
# Every process reads the same outbox: in multiprocess mode the scrape shows the freshest
# reading of a live process.
OUTBOX_DEPTH = Gauge(
    "authql_outbox_depth",
    "Mails queued in the outbox, due or waiting for a retry.",
    multiprocess_mode="livemax",
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "authql_outbox_oldest_seconds",
    "Age of the oldest queued mail in seconds (0 when the outbox is empty).",
    multiprocess_mode="livemax",
)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric: this process's, or all workers' in multiprocess mode."""
    if MULTIPROCESS_DIRECTORY not in os.environ:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def process_stopped() -> None:
    """Forget this process's live gauges (the hashes waiting) once it stops serving."""
    if MULTIPROCESS_DIRECTORY in os.environ:
        multiprocess.mark_process_dead(os.getpid())
