"""CPU per mail on the sending side: authql's SmtpMailer keeping its connection, against a
new connection per mail (`SMTP_IDLE_SECONDS=0`) and against `aiosmtplib.send` per mail as
the mailer did before (a connection and a `socket.getfqdn()` each). The SMTP sink runs in a
process of its own, so only the sender's CPU is counted:

    ./run --group test python -m bench.smtp_mail --mails 300
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiosmtplib

from embedded import free_port
from mail import SmtpMailer, registration_code_message
from settings import SmtpSecurity

SENDER = "authql <no-reply@bench.test>"


def mailer(port: int, idle_seconds: float) -> SmtpMailer:
    return SmtpMailer(
        host="127.0.0.1",
        port=port,
        username=None,
        password=None,
        security=SmtpSecurity.NONE,
        timeout=10,
        sender=SENDER,
        idle_seconds=idle_seconds,
    )


async def cpu_per_mail(send: Callable[[int], Awaitable[None]], mails: int) -> float:
    """CPU ms of this process per mail over `mails` mails sent one after another."""
    await send(-1)  # warm: imports, the first connection, the EHLO name
    before = time.process_time()
    for number in range(mails):
        await send(number)
    return 1000 * (time.process_time() - before) / mails


async def measure(port: int, mails: int) -> dict[str, float]:
    kept = mailer(port, idle_seconds=30)
    fresh = mailer(port, idle_seconds=0)

    def message(number: int) -> object:
        return registration_code_message(f"bench-{number}@example.com", "428913", 15)

    async def old(number: int) -> None:  # what SmtpMailer.send did before issue 22
        await aiosmtplib.send(
            kept._build(message(number)),  # type: ignore[arg-type]
            hostname="127.0.0.1",
            port=port,
            use_tls=False,
            start_tls=False,
            timeout=10,
        )

    results = {
        "aiosmtplib.send per mail (before)": await cpu_per_mail(old, mails),
        "a connection per mail (SMTP_IDLE_SECONDS=0)": await cpu_per_mail(
            lambda number: fresh.send(message(number)),  # type: ignore[arg-type]
            mails,
        ),
        "one kept connection (default)": await cpu_per_mail(
            lambda number: kept.send(message(number)),  # type: ignore[arg-type]
            mails,
        ),
    }
    await kept.aclose()
    return results


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.smtp_mail", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=300)
    args = parser.parse_args()
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        for name, value in asyncio.run(measure(port, args.mails)).items():
            print(f"{name}: {value:.2f} ms CPU per mail")
    finally:
        sink.terminate()
        sink.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
