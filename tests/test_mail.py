"""The mail package against a real SMTP server (aiosmtpd), a dead port and a hung server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from logs import JsonFormatter, TextFormatter
from mail import (
    ConsoleMailer,
    MailMessage,
    MailUnavailable,
    SmtpMailer,
    account_exists_message,
    registration_code_message,
)

SENDER = "authql <no-reply@authql.test>"
CODE = "428913"
SIX_DIGITS = re.compile(r"\d{6,}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler that keeps every received mail, parsed."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        raw = envelope.original_content or envelope.content  # type: ignore[attr-defined]
        self.received.append(email.message_from_bytes(raw, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def for_recipient(self, to: str) -> EmailMessage:
        matches = [m for m in self.received if m["To"] == to]
        assert len(matches) == 1, f"expected one mail to {to}, got {len(matches)}"
        return matches[0]


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mailer(port: int, timeout: float = 5.0) -> SmtpMailer:
    return SmtpMailer(
        host="127.0.0.1",
        port=port,
        username=None,
        password=None,
        security="none",
        timeout=timeout,
        sender=SENDER,
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",))
    markup = message.get_body(preferencelist=("html",))
    assert text is not None and text.get_content_type() == "text/plain"
    assert markup is not None and markup.get_content_type() == "text/html"
    return text.get_content(), markup.get_content()


async def test_code_message_is_delivered_as_text_and_html(
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    to = "new-user@example.com"

    await mailer(port).send(registration_code_message(to, CODE, 15))

    received = inbox.for_recipient(to)
    assert received["From"] == SENDER
    assert received["Subject"] == "Your authql verification code"
    assert CODE not in received["Subject"]
    assert received["Message-ID"] and received["Date"]
    text, markup = parts(received)
    assert re.search(rf"^\s*{CODE}\s*$", text, re.MULTILINE), "code must stand on its own line"
    assert "15 minutes" in text
    assert CODE in markup
    assert "15 minutes" in markup


async def test_account_exists_message_looks_the_same_from_outside(
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    to = "existing-user@example.com"
    code_message = registration_code_message("someone@example.com", CODE, 15)

    await mailer(port).send(account_exists_message(to))

    received = inbox.for_recipient(to)
    assert received["Subject"] == code_message.subject
    text, markup = parts(received)
    assert not SIX_DIGITS.search(text)
    assert not SIX_DIGITS.search(markup)
    assert "already have" in text and "log in" in text.lower()


@pytest.mark.parametrize(
    "message",
    [
        registration_code_message("<script>alert(1)</script>@example.com", CODE, 15),
        account_exists_message("<script>alert(1)</script>@example.com"),
    ],
    ids=["registration_code", "account_exists"],
)
def test_values_are_escaped_in_html_only(message: MailMessage) -> None:
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@example.com" in message.html
    assert "<script>alert(1)</script>@example.com" in message.text


async def test_smtp_down_raises_mail_unavailable_quickly() -> None:
    port = free_port()  # nothing listens here any more
    started = time.monotonic()

    with pytest.raises(MailUnavailable) as caught:
        await mailer(port, timeout=2).send(registration_code_message("a@example.com", CODE, 15))

    assert time.monotonic() - started < 3
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert CODE not in str(caught.value)


@pytest.fixture
async def hung_server() -> AsyncIterator[int]:
    """Accepts TCP connections and never says a word (no SMTP greeting)."""
    release = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await release.wait()

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        release.set()
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_smtp_hung_raises_mail_unavailable_within_timeout(
    hung_server: int,
) -> None:
    started = time.monotonic()

    with pytest.raises(MailUnavailable) as caught:
        await mailer(hung_server, timeout=1).send(registration_code_message("a@example.com", CODE, 15))

    assert time.monotonic() - started < 3
    assert CODE not in str(caught.value)


@pytest.fixture
async def slow_server() -> AsyncIterator[int]:
    """Speaks SMTP correctly but waits 0.6 s before every reply.

    Each reply comes within a 1 s per-operation timeout, so only a bound on the
    whole exchange stops a client from waiting ~4 s for the full conversation.
    """
    replies = {
        b"EHLO": b"250 slow",
        b"HELO": b"250 slow",
        b"MAIL": b"250 ok",
        b"RCPT": b"250 ok",
        b"DATA": b"354 go on",
        b"QUIT": b"221 bye",
    }

    async def reply(writer: asyncio.StreamWriter, line: bytes) -> None:
        await asyncio.sleep(0.6)
        writer.write(line + b"\r\n")
        await writer.drain()

    async def converse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reply(writer, b"220 slow ESMTP")
            while line := await reader.readline():
                await reply(writer, replies.get(line[:4].upper(), b"500 what"))
                if line[:4].upper() == b"DATA":
                    while (await reader.readline()) not in (b".\r\n", b""):
                        pass
                    await reply(writer, b"250 queued")
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(converse, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_smtp_slow_is_bounded_by_timeout_as_a_whole(slow_server: int) -> None:
    started = time.monotonic()

    with pytest.raises(MailUnavailable):
        await mailer(slow_server, timeout=1).send(registration_code_message("a@example.com", CODE, 15))

    assert time.monotonic() - started < 2


async def test_console_mailer_logs_the_mail_as_one_record(caplog: pytest.LogCaptureFixture) -> None:
    message = registration_code_message("dev@example.com", CODE, 15)

    with caplog.at_level(logging.INFO, logger="authql.mail.console"):
        await ConsoleMailer().send(message)

    [record] = [record for record in caplog.records if record.name == "authql.mail.console"]
    assert record.mail.startswith(f"To: dev@example.com\nSubject: {message.subject}\n\n")
    assert CODE in record.mail
    # The code is in the record's `mail` field only: JSON logs keep it there.
    assert CODE not in record.getMessage()
    text = TextFormatter().format(record)
    lines = text.splitlines()
    assert CODE in text and lines[1] == lines[-1] and set(lines[1]) == {"-"}
    assert json.loads(JsonFormatter().format(record))["mail"] == record.mail
