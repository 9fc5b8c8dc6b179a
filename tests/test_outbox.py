"""The mail outbox through HTTP with the real parts: a private aiosmtpd sink that is
stopped and started again, the Mongo-wire store read raw, and a real `uvicorn
server:app` killed with SIGKILL while mail waits in its outbox."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import Mailbox, captured_security_events, end_resend_cooldown, resent_code_promoted, serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import RESEND, START, VERIFY, data, new_email
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient
from served import PRODUCTION_COMMAND, ROOT, environment, wait_until_ready
from test_attacks import START_RESET

from embedded import free_port
from settings import Settings


class Sink:
    """An SMTP sink of this test's own on a fixed port, that can go down and come back."""

    def __init__(self) -> None:
        self.box = Mailbox(port=free_port())
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.box, hostname="127.0.0.1", port=self.box.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def sink(up: bool = True) -> Iterator[Sink]:
    smtp = Sink()
    if up:
        smtp.start()
    try:
        yield smtp
    finally:
        smtp.stop()


# Polls 0.05 s apart (outbox_settings): time enough for several, in which nothing may be sent.
SEVERAL_POLLS = 0.3


def outbox_settings(backend_urls: dict[str, str], smtp: Sink, **overrides: Any) -> Settings:
    # Retries a second apart, not 30 s: the test waits for an outage to end, not for backoff.
    values: dict[str, Any] = {"mail_retry_seconds": 0.5, "outbox_poll_seconds": 0.05, **overrides}
    return settings_with(backend_urls, smtp.box, **values)


async def outbox_records(settings: Settings) -> list[dict[str, Any]]:
    """The raw outbox documents, as MongoDB holds them."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongo_url)
    try:
        return await client[settings.mongo_db][settings.outbox_collection].find().to_list()
    finally:
        await client.close()


async def update_outbox(settings: Settings, change: dict[str, Any]) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongo_url)
    try:
        await client[settings.mongo_db][settings.outbox_collection].update_many({}, {"$set": change})
    finally:
        await client.close()


async def until(check: Any, timeout: float = 15.0) -> Any:
    """Poll the coroutine function `check` until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def tried(settings: Settings) -> bool:
    """Every mail has been tried at least once, and none is in a sender's hands."""
    records = await outbox_records(settings)
    return bool(records) and all(record["attempts"] >= 1 and not record["claimed_by"] for record in records)


def counter(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_mail_queued_while_smtp_is_down_arrives_once_it_is_back(backend_urls):
    with sink() as smtp:
        settings = outbox_settings(backend_urls, smtp)
        async with serve(settings) as client:
            email = new_email()
            started = await data(client, START, {"email": email})
            old_code = await smtp.box.code_for(email)
            flow = started["registrationId"]

            smtp.stop()
            retried = counter("authql_mails_retried_total")
            # Every mail-sending step answers as usual: the mail is queued, not sent.
            await end_resend_cooldown(backend_urls, "reg", flow)
            resent = await data(client, RESEND, {"id": flow})
            assert resent["__typename"] == "RegistrationCodeSent", resent
            other = new_email()
            started_other = await data(client, START, {"email": other})
            assert started_other["__typename"] == "RegistrationStarted", started_other
            reset = await data(client, START_RESET, {"email": new_email()})
            assert reset["__typename"] == "PasswordResetStarted", reset
            await until(lambda: tried(settings))
            assert counter("authql_mails_retried_total") > retried

            smtp.start()  # the server is not restarted: its sender keeps trying
            new_code = await smtp.box.code_for(email, count=2)
            await smtp.box.wait_for(other)
            # The code that reached the inbox first worked until the new one arrived.
            await resent_code_promoted(backend_urls, "reg", flow)
            wrong = await data(client, VERIFY, {"id": flow, "code": old_code})
            assert wrong["__typename"] == "InvalidCode", wrong
            right = await data(client, VERIFY, {"id": flow, "code": new_code})
            assert right["__typename"] == "RegistrationVerified", right
            await until(lambda: all_done(settings))
            assert len(smtp.box.received(email)) == 2


async def all_done(settings: Settings) -> bool:
    return all(record["state"] != "queued" for record in await outbox_records(settings))


async def test_the_delivered_code_keeps_working_while_a_resend_is_queued(backend_urls):
    with sink() as smtp:
        async with serve(outbox_settings(backend_urls, smtp)) as client:
            email = new_email()
            flow = (await data(client, START, {"email": email}))["registrationId"]
            code = await smtp.box.code_for(email)
            smtp.stop()
            await end_resend_cooldown(backend_urls, "reg", flow)
            resent = await data(client, RESEND, {"id": flow})
            assert resent["__typename"] == "RegistrationCodeSent", resent
            right = await data(client, VERIFY, {"id": flow, "code": code})
            assert right["__typename"] == "RegistrationVerified", right


async def test_a_queued_mail_is_sealed_at_rest_and_its_body_is_gone_once_sent(backend_urls):
    with sink(up=False) as smtp:
        settings = outbox_settings(backend_urls, smtp)
        async with serve(settings) as client:
            email = new_email()
            await data(client, START, {"email": email})
            await until(lambda: tried(settings))
            [queued] = await outbox_records(settings)
            smtp.start()
            code = await smtp.box.code_for(email)
            [sent] = await until(lambda: done_records(settings))

    stored = repr(queued)
    assert code not in stored and email not in stored and email.split("@")[0] not in stored, queued
    assert queued["state"] == "queued" and queued["sealed"], queued
    assert "SMTP" in queued["last_error"], queued
    # Delivered: only what an operator needs is kept.
    assert sent["state"] == "sent" and sent["sealed"] is None, sent
    assert sent["recipient"] == queued["recipient"] and sent["template"] == "registration_code", sent
    assert sent["attempts"] >= 2 and sent["finished_ms"] >= sent["created_ms"], sent
    assert code not in repr(sent) and email not in repr(sent), sent


async def done_records(settings: Settings) -> list[dict[str, Any]]:
    records = await outbox_records(settings)
    return records if records and all(record["state"] != "queued" for record in records) else []


async def test_a_mail_is_abandoned_after_mail_max_attempts(backend_urls):
    with sink(up=False) as smtp:
        settings = outbox_settings(backend_urls, smtp, mail_max_attempts=3, mail_retry_seconds=600)
        with captured_security_events() as events:
            async with serve(settings) as client:
                email = new_email()
                await data(client, START, {"email": email})
                await until(lambda: tried(settings))
                abandoned = counter("authql_mails_abandoned_total")
                # Two tries spent, the next one due now: as if the backoff had passed.
                await update_outbox(settings, {"attempts": 2, "due_ms": 0})
                [record] = await until(lambda: done_records(settings))
                assert counter("authql_mails_abandoned_total") == abandoned + 1
                smtp.start()
                await asyncio.sleep(SEVERAL_POLLS)  # nothing is sent any more
                assert smtp.box.received(email) == []

    assert record["state"] == "abandoned" and record["sealed"] is None and record["attempts"] == 3, record
    assert "SMTP" in record["last_error"], record
    [event] = [event for event in events if event["event"] == "mail_abandoned"]
    assert event["template"] == "registration_code" and event["attempts"] == 3, event
    assert event["recipient"] == record["recipient"] and email not in repr(event), event


async def test_a_claim_is_respected_until_it_expires_then_taken_over(backend_urls):
    with sink(up=False) as smtp:
        settings = outbox_settings(backend_urls, smtp)
        async with serve(settings) as client:
            email = new_email()
            await data(client, START, {"email": email})
            await until(lambda: tried(settings))
            # Another process holds the mail for the next hour: nobody else may send it.
            now_ms = int(time.time() * 1000)
            await update_outbox(
                settings, {"claimed_by": "another", "lease_ms": now_ms + 3_600_000, "due_ms": 0}
            )
            smtp.start()
            await asyncio.sleep(SEVERAL_POLLS)
            assert smtp.box.received(email) == []
            # That process died: once its claim expires, this one takes the mail over.
            await update_outbox(settings, {"lease_ms": now_ms})
            await smtp.box.wait_for(email)


def start_server(
    settings: Settings, log: Path, port: int, arguments: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", *PRODUCTION_COMMAND, "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as output:
        return subprocess.Popen(
            [*command, *arguments, "--log-level", "warning"],
            cwd=ROOT,
            env=environment(settings),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.subprocess
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_mail_queued_when_the_server_is_killed_is_sent_once_after_a_restart(backend_urls, tmp_path):
    import httpx  # noqa: PLC0415

    with sink(up=False) as smtp:
        settings = outbox_settings(backend_urls, smtp, mail_retry_seconds=600)
        log = tmp_path / "server.log"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = start_server(settings, log, port)
        try:
            await asyncio.to_thread(wait_until_ready, process, url, log)
            email = new_email()
            async with httpx.AsyncClient(base_url=url) as client:
                started = await data(client, START, {"email": email})
                assert started["__typename"] == "RegistrationStarted", started
            await until(lambda: tried(settings))  # tried once, put back for ten minutes
            os.kill(process.pid, signal.SIGKILL)  # no shutdown, no release of anything
            process.wait()
            await update_outbox(settings, {"due_ms": 0})  # as if the backoff had passed
            smtp.start()
            await asyncio.sleep(SEVERAL_POLLS)
            assert smtp.box.received(email) == []  # nobody sends it while no server runs

            process = start_server(settings, log, port)
            await asyncio.to_thread(wait_until_ready, process, url, log)
            await smtp.box.wait_for(email)
            await until(lambda: all_done(settings))
            await asyncio.sleep(SEVERAL_POLLS)
            assert len(smtp.box.received(email)) == 1
        finally:
            process.terminate()
            process.wait(15)


@pytest.mark.subprocess
async def test_sigterm_lets_the_mail_in_hand_finish_and_releases_its_claim(backend_urls, tmp_path):
    # An SMTP server that accepts and never answers: the mail stays in the sender's hands.
    connections: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    hung = await asyncio.start_server(hang, "127.0.0.1", 0)
    smtp = Sink()
    smtp.box.port = hung.sockets[0].getsockname()[1]
    # A lease of an hour: only the release at shutdown can free the mail soon.
    settings = outbox_settings(
        backend_urls, smtp, smtp_timeout_seconds=3, outbox_lease_seconds=3600, mail_retry_seconds=600
    )
    log = tmp_path / "server.log"
    port = free_port()
    process = start_server(settings, log, port)
    try:
        await asyncio.to_thread(wait_until_ready, process, f"http://127.0.0.1:{port}", log)
        import httpx  # noqa: PLC0415

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await data(client, START, {"email": new_email()})

        async def in_hand() -> bool:
            return any(record["claimed_by"] for record in await outbox_records(settings))

        await until(in_hand)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 15)
        # uvicorn stops cleanly, then re-raises the SIGTERM it caught (exit -15).
        assert code in (0, -signal.SIGTERM), log.read_text()
        assert "Traceback" not in log.read_text(), log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        hung.close()
        for writer in connections:
            writer.close()
    [record] = await outbox_records(settings)
    assert record["state"] == "queued" and not record["claimed_by"], record
    assert record["lease_ms"] <= int(time.time() * 1000), record  # any process may take it now
    assert record["attempts"] == 1 and "SMTP" in (record["last_error"] or ""), record


@pytest.mark.subprocess
async def test_two_workers_share_the_outbox_and_send_each_mail_once(backend_urls, tmp_path):
    with sink(up=False) as smtp:
        settings = outbox_settings(backend_urls, smtp, mail_retry_seconds=600)
        log = tmp_path / "server.log"
        port = free_port()
        process = start_server(settings, log, port, ("--workers", "2"))
        try:
            await asyncio.to_thread(wait_until_ready, process, f"http://127.0.0.1:{port}", log)
            import httpx  # noqa: PLC0415

            emails = [new_email() for _ in range(24)]
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await asyncio.gather(*(data(client, START, {"email": email}) for email in emails))
            await until(lambda: tried(settings))
            # SMTP back, then every mail due at once: both workers' senders race for the same
            # mails. In this order: a mail tried before SMTP is up would wait 600 s for a retry.
            smtp.start()
            await update_outbox(settings, {"due_ms": 0})
            await until(lambda: all_done(settings), timeout=30)
            await asyncio.sleep(SEVERAL_POLLS)
        finally:
            process.terminate()
            process.wait(15)
    assert sorted(message["To"] for message in smtp.box.messages) == sorted(emails)
    assert {record["state"] for record in await outbox_records(settings)} == {"sent"}
