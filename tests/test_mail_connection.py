"""The SMTP mailer keeps one connection across mails, against a real aiosmtpd sink (the
conftest Mailbox, which records the connection each mail came over): N mails over one
connection, a sink restarted or closing idle connections between mails, a kept connection
that fails its check, a mail refused on a kept connection, and the EHLO name asked once."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import Mailbox, serve
from flows import START, data
from test_outbox import outbox_records, outbox_settings

from embedded import free_port
from mail import MailUnavailable, SmtpMailer, registration_code_message
from settings import SmtpSecurity

SENDER = "authql <no-reply@authql.test>"


@dataclass
class Box(Mailbox):
    """The Mailbox, counting QUITs; it can answer NOOP with 421 or refuse a recipient."""

    quits: int = 0
    noop_reply: str = "250 OK"
    refused: set[str] = field(default_factory=set)

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"

    async def handle_NOOP(self, server: Any, session: Any, envelope: Any, arg: str) -> str:
        return self.noop_reply

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class Sink:
    """A Box on a port of its own that can be stopped and started again there."""

    def __init__(self, **smtp_parameters: Any) -> None:
        self.box = Box(port=free_port())
        self._parameters = smtp_parameters
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(
            self.box,
            hostname="127.0.0.1",
            port=self.box.port,
            server_hostname="sink.test",  # not socket.getfqdn(): the test counts who asks it
            **self._parameters,
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def connections(self, *recipients: str) -> set[tuple[Any, ...]]:
        """The distinct connections the mails to `recipients` came over."""
        return {peer for to in recipients for peer in self.box.peers.get(to, [])}


@pytest.fixture
def sink() -> Iterator[Sink]:
    smtp = Sink()
    smtp.start()
    try:
        yield smtp
    finally:
        smtp.stop()


def mailer(port: int, **options: Any) -> SmtpMailer:
    values: dict[str, Any] = {"timeout": 5.0, "local_hostname": "authql.test", **options}
    return SmtpMailer(
        host="127.0.0.1",
        port=port,
        username=None,
        password=None,
        security=SmtpSecurity.NONE,
        sender=SENDER,
        **values,
    )


def addresses(count: int) -> list[str]:
    return [f"kept-{index}-{free_port()}@example.com" for index in range(count)]


async def send_all(smtp: SmtpMailer, recipients: list[str]) -> None:
    for to in recipients:
        await smtp.send(registration_code_message(to, "428913", 15))


async def test_many_mails_go_over_one_connection_with_one_ehlo(sink: Sink) -> None:
    smtp = mailer(sink.box.port)
    recipients = addresses(8)
    try:
        await send_all(smtp, recipients)
    finally:
        await smtp.aclose()

    assert all(len(sink.box.received(to)) == 1 for to in recipients)
    assert len(sink.connections(*recipients)) == 1
    assert sink.box.ehlo_names == ["authql.test"]
    assert sink.box.quits == 1  # aclose says goodbye


async def test_idle_seconds_zero_opens_a_connection_per_mail(sink: Sink) -> None:
    smtp = mailer(sink.box.port, idle_seconds=0)
    recipients = addresses(3)
    await send_all(smtp, recipients)

    assert len(sink.connections(*recipients)) == 3
    assert sink.box.quits == 3


async def test_the_local_hostname_is_asked_once_not_per_mail(
    sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def getfqdn(name: str = "") -> str:
        asked.append(name)
        return "host.authql.test"

    monkeypatch.setattr(socket, "getfqdn", getfqdn)
    # A new connection per mail: the name is still asked only once.
    smtp = mailer(sink.box.port, local_hostname=None, idle_seconds=0)
    await send_all(smtp, addresses(3))

    assert len(asked) == 1
    assert sink.box.ehlo_names == ["host.authql.test"] * 3


async def test_a_restarted_server_gets_the_next_mail_over_a_new_connection(sink: Sink) -> None:
    smtp = mailer(sink.box.port)
    first, second, third = addresses(3)
    try:
        await send_all(smtp, [first])
        sink.stop()
        sink.start()
        await send_all(smtp, [second, third])  # no MailUnavailable: the mail is not left for a retry
    finally:
        await smtp.aclose()

    assert [len(sink.box.received(to)) for to in (first, second, third)] == [1, 1, 1]
    assert len(sink.connections(first, second, third)) == 2
    assert sink.connections(second) == sink.connections(third)


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    smtp_sink = Sink(timeout=0.3)  # the server drops a connection idle 0.3 s
    smtp_sink.start()
    smtp = mailer(smtp_sink.box.port)
    first, second = addresses(2)
    try:
        await send_all(smtp, [first])
        await asyncio.sleep(0.8)
        await send_all(smtp, [second])
    finally:
        await smtp.aclose()
        smtp_sink.stop()

    assert [len(smtp_sink.box.received(to)) for to in (first, second)] == [1, 1]
    assert len(smtp_sink.connections(first, second)) == 2


async def test_a_kept_connection_that_fails_its_noop_is_replaced_before_the_mail(sink: Sink) -> None:
    """A server that is going away answers 421 but keeps the socket open for now."""
    smtp = mailer(sink.box.port)
    first, second, third = addresses(3)
    try:
        await send_all(smtp, [first])
        sink.box.noop_reply = "421 4.3.2 Service shutting down"
        await send_all(smtp, [second])
        sink.box.noop_reply = "250 OK"
        await send_all(smtp, [third])
    finally:
        await smtp.aclose()

    assert [len(sink.box.received(to)) for to in (first, second, third)] == [1, 1, 1]
    # The second mail left the refusing connection for a new one, which the third reused.
    assert len(sink.connections(first, second, third)) == 2
    assert sink.connections(second) == sink.connections(third)


async def test_a_mail_refused_on_a_kept_connection_raises_and_the_next_one_goes(sink: Sink) -> None:
    refused = "refused@example.com"
    sink.box.refused.add(refused)
    smtp = mailer(sink.box.port)
    first, after = addresses(2)
    try:
        await send_all(smtp, [first])
        with pytest.raises(MailUnavailable):
            await send_all(smtp, [refused])  # the outbox tries it again later
        await send_all(smtp, [after])
    finally:
        await smtp.aclose()

    assert sink.box.received(refused) == []
    assert [len(sink.box.received(to)) for to in (first, after)] == [1, 1]


async def test_the_mailer_closes_its_connection_after_idle_seconds(sink: Sink) -> None:
    smtp = mailer(sink.box.port, idle_seconds=0.2)
    first, second = addresses(2)
    await send_all(smtp, [first])
    await asyncio.sleep(0.6)

    assert sink.box.quits == 1  # closed by the mailer with a QUIT, not left to the server
    await send_all(smtp, [second])
    await smtp.aclose()
    assert len(sink.connections(first, second)) == 2


async def test_the_outbox_sends_its_mails_over_one_connection_and_survives_a_restart(
    backend_urls: dict[str, str],
) -> None:
    """Through the app: registrations' code mails share the sender's connection; the sink
    restarted between two mails costs the next one no retry (tried once, delivered once)."""
    smtp_sink = Sink()
    smtp_sink.start()
    settings = outbox_settings(backend_urls, smtp_sink)  # type: ignore[arg-type]
    before, after = addresses(4), addresses(2)
    try:
        async with serve(settings) as client:
            for to in before:
                started = await data(client, START, {"email": to})
                assert started["__typename"] == "RegistrationStarted", started
                await smtp_sink.box.wait_for(to)
            smtp_sink.stop()
            smtp_sink.start()
            for to in after:
                await data(client, START, {"email": to})
                await smtp_sink.box.wait_for(to)
            records = await outbox_records(settings)
    finally:
        smtp_sink.stop()

    assert all(len(smtp_sink.box.received(to)) == 1 for to in before + after)
    assert len(smtp_sink.connections(*before)) == 1
    assert len(smtp_sink.connections(*after)) == 1
    assert smtp_sink.connections(*before) != smtp_sink.connections(*after)
    assert [record["attempts"] for record in records] == [1] * len(before + after)
