"""Deliver mail through an SMTP server with aiosmtplib."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from settings import SmtpSecurity

from .errors import MailUnavailable
from .message import MailMessage

logger = logging.getLogger("authql.mail")


class SmtpMailer:
    """Production mailer: one SMTP connection per message, bounded by `timeout`."""

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
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._security = SmtpSecurity(security)  # a value that is none of them raises ValueError
        self._timeout = timeout
        self._sender = sender
        # Our own Message-ID, not make_msgid(): without a domain that calls socket.getfqdn(),
        # which can block on DNS, and it draws from the shared `random` state.
        self._msgid_domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"

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
        try:
            # aiosmtplib's timeout is per operation; this one bounds the whole exchange,
            # so a server that accepts the connection and then stalls cannot hang us.
            async with asyncio.timeout(self._timeout):
                await aiosmtplib.send(
                    mime,
                    hostname=self._host,
                    port=self._port,
                    username=self._username,
                    password=self._password,
                    use_tls=self._security == SmtpSecurity.TLS,
                    # False, not None: None would let aiosmtplib upgrade opportunistically.
                    start_tls=self._security == SmtpSecurity.STARTTLS,
                    timeout=self._timeout,
                )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailUnavailable(
                f"SMTP server at {self._host}:{self._port} unavailable: {type(exc).__name__}"
            ) from None
        # The subject only: an address is personal data, and logs travel further than mail.
        logger.info("mail sent: %s", message.subject)
