"""Deliver mail through an SMTP server with aiosmtplib, over one connection kept open."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from settings import SmtpSecurity

from .errors import MailUnavailable
from .message import MailMessage

logger = logging.getLogger("authql.mail")

# What a kept connection that the server or the network dropped meanwhile raises on its
# next command: the mail is then sent over a new connection.
STALE = (aiosmtplib.SMTPException, OSError)


class SmtpMailer:
    """Production mailer: one SMTP connection kept across mails and closed after
    `idle_seconds` unused (0: one connection per mail), each send bounded by `timeout`.

    A connection costs a TCP handshake, the greeting, EHLO (and STARTTLS, a second EHLO and
    the login): four round trips or more, where a kept one needs a NOOP. The EHLO name is
    `local_hostname`, or `socket.getfqdn()` once (aiosmtplib would ask it, over DNS, for
    every connection). A kept connection that fails its NOOP is replaced before the mail is
    sent; any failure once the mail is under way closes the connection and raises
    `MailUnavailable`, and the outbox tries the mail again later: a mail is never sent
    twice by this class's own retry."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        security: SmtpSecurity | str,
        timeout: float,
        sender: str,
        idle_seconds: float = 30.0,
        local_hostname: str | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._security = SmtpSecurity(security)  # a value that is none of them raises ValueError
        self._timeout = timeout
        self._sender = sender
        self._idle_seconds = idle_seconds
        self._local_hostname = local_hostname
        # Our own Message-ID, not make_msgid(): without a domain that calls socket.getfqdn(),
        # which can block on DNS, and it draws from the shared `random` state.
        self._msgid_domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
        self._client: aiosmtplib.SMTP | None = None
        self._used_at = 0.0  # monotonic time the kept connection last carried a mail
        self._lock = asyncio.Lock()  # one exchange at a time on the one connection
        self._closer: asyncio.TimerHandle | None = None
        self._closing: asyncio.Task[None] | None = None  # held: the loop keeps only weak references

    def _build(self, message: MailMessage) -> EmailMessage:
        mime = EmailMessage()
        mime["From"] = self._sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = format_datetime(datetime.now(UTC))
        mime["Message-ID"] = f"<{secrets.token_hex(16)}@{self._msgid_domain}>"
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        # Our own boundary too: the email package would draw one from the shared `random`.
        mime.set_boundary(f"=={secrets.token_hex(16)}==")
        return mime

    async def send(self, message: MailMessage) -> None:
        """Send `message` or raise `MailUnavailable`; the error never carries the body."""
        mime = self._build(message)
        async with self._lock:
            self._cancel_closer()
            try:
                # aiosmtplib's timeout is per operation; this one bounds the whole exchange,
                # so a server that accepts the connection and then stalls cannot hang us.
                async with asyncio.timeout(self._timeout):
                    client = await self._connection()
                    await client.send_message(mime)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                self._drop()
                raise MailUnavailable(
                    f"SMTP server at {self._host}:{self._port} unavailable: {type(exc).__name__}"
                ) from None
            except BaseException:
                self._drop()  # cancelled mid-exchange: the connection's state is unknown
                raise
            self._used_at = time.monotonic()
            await self._keep_or_close()
        # The subject only: an address is personal data, and logs travel further than mail.
        logger.info("mail sent: %s", message.subject)

    async def aclose(self) -> None:
        """Say goodbye on the kept connection, if any (bounded; at shutdown)."""
        async with self._lock:
            self._cancel_closer()
            await self._quit()

    def _cancel_closer(self) -> None:
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None

    async def _connection(self) -> aiosmtplib.SMTP:
        """The kept connection if it is young enough and answers a NOOP, else a new one."""
        client = self._client
        if client is not None:
            if client.is_connected and time.monotonic() - self._used_at < self._idle_seconds:
                try:
                    await client.noop()
                    return client
                except STALE:
                    pass  # closed by the server or lost: nothing of this mail was sent yet
            self._drop()
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._security == SmtpSecurity.TLS,
            # False, not None: None would let aiosmtplib upgrade opportunistically.
            start_tls=self._security == SmtpSecurity.STARTTLS,
            timeout=self._timeout,
            local_hostname=self._local_hostname,
        )
        await client.connect()
        self._client = client
        return client

    async def _keep_or_close(self) -> None:
        if self._idle_seconds <= 0:
            await self._quit()
            return
        self._closer = asyncio.get_running_loop().call_later(self._idle_seconds, self._close_idle)

    def _close_idle(self) -> None:
        """Unused for `idle_seconds`: QUIT, unless a send has taken the connection meanwhile."""
        self._closer = None
        if not self._lock.locked():
            self._closing = asyncio.get_running_loop().create_task(self._quit_unless_busy())

    async def _quit_unless_busy(self) -> None:
        async with self._lock:
            if self._closer is None and time.monotonic() - self._used_at >= self._idle_seconds:
                await self._quit()

    async def _quit(self) -> None:
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            async with asyncio.timeout(self._timeout):
                await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        finally:
            client.close()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
