"""The one failure callers of a mailer have to handle."""

from __future__ import annotations


class MailUnavailable(Exception):
    """SMTP could not take the message (down, hung, refused).

    The text names the server and the kind of failure only: it must never carry
    the mail body, because the body may hold a one-time code.
    """
