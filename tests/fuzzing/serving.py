"""Serving the app for a fuzz run: uvicorn in the running loop, an SMTP sink, fuzzing settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import uvicorn

from tests.fuzzing.policy import HOST


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the process that runs it keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: Any, port: int | None = None, startup_timeout: float = 30.0) -> AsyncIterator[str]:
    """`app` served by uvicorn on 127.0.0.1 in the running loop, lifespan included, until
    /health/ready answers 200; yields the base URL, then stops the server."""
    import httpx  # noqa: PLC0415 - only needed here

    from embedded import free_port  # noqa: PLC0415

    port = port or free_port()
    # proxy_headers off as in production: the app's TRUSTED_PROXIES alone reads X-Forwarded-For.
    config = uvicorn.Config(
        app,
        host=HOST,
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    base_url = f"http://{HOST}:{port}"
    try:
        deadline = asyncio.get_running_loop().time() + startup_timeout
        async with httpx.AsyncClient(base_url=base_url) as client:
            while True:
                if task.done():
                    task.result()
                    raise RuntimeError("the server stopped during start-up")
                if server.started:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get("/health/ready")).status_code == 200:
                            break
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"{base_url} was not ready in {startup_timeout}s")
                await asyncio.sleep(0.05)
        yield base_url
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)


class MailSink:
    """An SMTP server that keeps what it receives, for reading codes."""

    def __init__(self) -> None:
        import email  # noqa: PLC0415
        import email.policy  # noqa: PLC0415

        from aiosmtpd.controller import Controller  # noqa: PLC0415

        from embedded import free_port  # noqa: PLC0415

        self.messages: list[EmailMessage] = []
        self.port = free_port()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        self.controller = Controller(Handler(), hostname=HOST, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def fuzz_settings(base: dict[str, Any]) -> dict[str, Any]:
    """Overrides for an app under fuzzing: per-IP limits out of the way (one fuzzing IP), cheap
    argon2 so login-shaped cases do not dominate the run, a generous mail budget."""
    from settings import RATE_LIMITED_OPERATIONS, Settings  # noqa: PLC0415

    overrides: dict[str, Any] = {
        **{f"rate_limit_{operation}": "100000/minute" for operation in RATE_LIMITED_OPERATIONS},
        "rate_limit_documents": "1000000/minute",
        "argon2_time_cost": 2,
        "argon2_memory_kib": 19_456,
        "argon2_parallelism": 1,
        "mails_per_hour": 1_000_000,
        "introspection": True,  # the fuzzer reads the schema by introspection
        "mails_per_ip_per_hour": 1_000_000,
        "code_failures_per_address_per_day": 100,
        **base,
    }
    return {
        name: value for name, value in overrides.items() if name in Settings.model_fields or name[0] == "_"
    }
