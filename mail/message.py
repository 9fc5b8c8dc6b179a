"""What a mail is, and what anything that can send one looks like."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class MailMessage:
    """A ready-to-send mail: both parts are rendered, nothing is left to fill in."""

    to: str
    subject: str
    text: str
    html: str
    # Which mail this is (the template's name): what the outbox keeps once it is sent.
    template: str = "mail"


class Mailer(Protocol):
    """Anything that can deliver a `MailMessage` (SMTP in production, stdout in dev)."""

    async def send(self, message: MailMessage) -> None: ...

    async def aclose(self) -> None:
        """Let go of what it holds between mails (a kept SMTP connection); at shutdown."""
