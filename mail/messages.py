"""The mails authql sends: registration and password-reset codes, their codeless
twins for addresses on the other side ("account exists", "no account"), and the
two-factor notices.

Each code mail and its twin share one subject: an observer who sees only the subject
(or the fact that a mail went out) cannot tell whether the address has an account.
"""

from __future__ import annotations

from .message import MailMessage
from .render import render

SUBJECT = "Your authql verification code"


def registration_code_message(to: str, code: str, expires_in_minutes: int) -> MailMessage:
    """The one-time code for a new registration; the code stays out of the subject."""
    text, markup = render(
        "registration_code",
        {"to": to, "code": code, "expires_in_minutes": str(expires_in_minutes)},
    )
    return MailMessage(to=to, subject=SUBJECT, text=text, html=markup, template="registration_code")


def account_exists_message(to: str) -> MailMessage:
    """Sent instead of a code when the address already has an account; it holds no code."""
    text, markup = render("account_exists", {"to": to})
    return MailMessage(to=to, subject=SUBJECT, text=text, html=markup, template="account_exists")


RESET_SUBJECT = "Your authql password reset code"


def password_reset_code_message(to: str, code: str, expires_in_minutes: int) -> MailMessage:
    text, markup = render(
        "password_reset_code",
        {"to": to, "code": code, "expires_in_minutes": str(expires_in_minutes)},
    )
    return MailMessage(to=to, subject=RESET_SUBJECT, text=text, html=markup, template="password_reset_code")


def password_reset_no_account_message(to: str) -> MailMessage:
    """Sent instead of a code when the address has no account; same subject, no code."""
    text, markup = render("password_reset_no_account", {"to": to})
    return MailMessage(
        to=to, subject=RESET_SUBJECT, text=text, html=markup, template="password_reset_no_account"
    )


NOTICE_SUBJECT = "Security notice for your authql account"


def two_factor_notice_message(to: str, event: str, *, recovery_codes_left: int = 0) -> MailMessage:
    """A notice, with no secret in it, that two-factor changed or a recovery code was used.

    `event`: "two_factor_enabled", "two_factor_disabled", "recovery_code_used" or
    "recovery_codes_regenerated" (the template's name)."""
    text, markup = render(event, {"to": to, "left": str(recovery_codes_left)})
    return MailMessage(to=to, subject=NOTICE_SUBJECT, text=text, html=markup, template=event)
