"""Schemathesis fuzzing of authql's live GraphQL schema over HTTP, for long runs.

    uv run python bench/fuzz.py --examples 1000              # starts Mongo, Redis, an SMTP sink and the app
                                                             # (~40 000 cases, ~15 min on 2 cores)
    uv run python bench/fuzz.py --examples 300 --seed 7      # another seed, another run
    uv run python bench/fuzz.py --only login --examples 5000 # operations whose label holds "login"
    uv run python bench/fuzz.py --url http://127.0.0.1:8000 --token <accessToken>   # a running server

Without --url the script starts nx-27017, redis-server and an SMTP sink in a temporary
directory and serves `create_app` on a free port with uvicorn, the way tests/test_fuzz.py
does in CI (where the same fuzzer runs bounded and seeded). With --url it fuzzes that
server: no mail is readable there, so protected operations are fuzzed signed in only with
--token, and forged tokens are signed with the real key only with --jwt-secret.

What is fuzzed (--examples is per operation and per kind):
  * every query and mutation of the schema read from the server by introspection, with
    schemathesis-generated documents: valid ones (positive), anonymous and, for protected
    fields, signed in as a real user; and invalid ones (negative);
  * valid documents whose string arguments are swapped for values the server knows
    (a real email, password, registrationId, code, refresh token, session id...) so the
    fuzzer gets past the first "unknown flow" answer into the deep paths;
  * the Authorization header (garbage, alg none, wrong key, right key with bad claims);
  * the HTTP request itself (bodies, content types, variables, GET parameters, batches).

The policy every response must keep: HTTP status below 500; a JSON object body; every
error with `extensions.code` in ALLOWED_CODES and never INTERNAL_SERVER_ERROR (an
unexpected exception) or SERVICE_UNAVAILABLE (the backends are up); protected fields
answer UNAUTHENTICATED without a token; invalid documents are refused; no traceback,
exception class or library name that the request did not itself contain.

Prints a summary (operations, cases, outcomes, failures) and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.fuzzing.policy import HOST
from tests.fuzzing.runner import Stats, Target, mail_readers, run_all
from tests.fuzzing.serving import MailSink, fuzz_settings, serving
from tests.fuzzing.strategies import TokenFacts


async def fuzz_embedded(args: argparse.Namespace) -> Stats:
    """Start the backends, a mail sink and the app; fuzz it from a worker thread."""
    from embedded import start_mongo, start_redis, stop_services  # noqa: PLC0415
    from server import create_app  # noqa: PLC0415
    from settings import Settings  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="authql-fuzz-") as data_dir:
        services = []
        sink = MailSink()
        try:
            services.append(start_mongo(Path(data_dir)))
            services.append(start_redis(Path(data_dir)))
            secret = secrets.token_urlsafe(48)
            settings = Settings(
                **fuzz_settings(
                    {
                        "_env_file": None,
                        "mongo_url": services[0].url,
                        "redis_url": services[1].url,
                        "mongo_db": "authql_fuzz",
                        "jwt_secret": secret,
                        "smtp_host": HOST,
                        "smtp_port": sink.port,
                        "smtp_security": "none",
                    }
                )
            )
            async with serving(create_app(settings)) as base_url:
                print(f"fuzzing {base_url} (Mongo {services[0].url}, Redis {services[1].url})", flush=True)
                read_code, codes = mail_readers(lambda: sink.messages)
                facts = TokenFacts(settings.jwt_issuer, settings.jwt_audience, secret)
                return await asyncio.to_thread(
                    _fuzz, base_url, args, read_code=read_code, codes=codes, facts=facts
                )
        finally:
            sink.stop()
            stop_services(services)


def _fuzz(base_url: str, args: argparse.Namespace, **target_kwargs: Any) -> Stats:
    target = Target(base_url, **target_kwargs)
    try:
        return run_all(target, examples=args.examples, seed=args.seed, only=args.only)
    finally:
        target.close()


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="cases per operation and kind (200)")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: derandomized)")
    parser.add_argument("--only", default=None, help="fuzz only operations whose label holds this")
    parser.add_argument("--url", default=None, help="fuzz this running server instead of starting one")
    parser.add_argument("--token", default=None, help="with --url: an access token for protected fields")
    parser.add_argument("--jwt-secret", default=None, help="with --url: its HS256 secret, to forge tokens")
    parser.add_argument("--issuer", default="authql", help="with --url: its JWT_ISSUER")
    parser.add_argument("--audience", default="authql", help="with --url: its JWT_AUDIENCE")
    args = parser.parse_args(None if argv is None else list(argv))
    started = time.monotonic()
    if args.url:
        facts = TokenFacts(args.issuer, args.audience, args.jwt_secret)
        stats = _fuzz(args.url, args, token=args.token, facts=facts)
    else:
        stats = asyncio.run(fuzz_embedded(args))
    print(stats.summary())
    for failure in stats.failures:
        print(f"\nFAILURE {failure}")
    operations = len({key.split(" ")[0] for key in stats.cases if "." in key.split(" ")[0]})
    print(
        f"\n{operations} operations, {stats.total} cases, {len(stats.failures)} failures "
        f"in {time.monotonic() - started:.0f}s"
    )
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())
