"""Dev-mode mailer that logs mails instead of sending them."""

from __future__ import annotations

import logging

from .message import MailMessage

logger = logging.getLogger("authql.mail.console")


class ConsoleMailer:
    """Dev mode: logs each message, code included, as one record on `authql.mail.console`.

    The record's `mail` field holds To, Subject and the plain-text part: text logs print
    it between two rules below the line, JSON logs as the record's `mail` field. It is
    the only place a code may be logged; never use this mailer in production.
    """

    async def send(self, message: MailMessage) -> None:
        mail = f"To: {message.to}\nSubject: {message.subject}\n\n{message.text.rstrip()}"
        logger.info("console mailer: mail printed (code included)", extra={"mail": mail})

    async def aclose(self) -> None:
        """Nothing held between mails."""
