"""Dev-mode mailer that prints mails instead of sending them."""

from __future__ import annotations

import sys
from typing import TextIO

from .message import MailMessage

RULE = "-" * 72


class ConsoleMailer:
    """Dev mode: prints each message (code included) to stdout.

    This is the only place a code may be printed; never use it in production.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, message: MailMessage) -> None:
        """Print To, Subject and the plain-text part between two rules."""
        # Resolved now, not in __init__, so redirected or captured stdout is honoured.
        stream = self._stream if self._stream is not None else sys.stdout
        stream.write(
            f"{RULE}\nTo: {message.to}\nSubject: {message.subject}\n\n{message.text.rstrip()}\n{RULE}\n"
        )
        stream.flush()
