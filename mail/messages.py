"""The mails authql sends: registration, password-reset, sign-in and email-change codes,
their codeless twins for addresses on the other side ("account exists", "no account"),
the notices of an email change to the account's current address, and the two-factor
notices.

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


LOGIN_SUBJECT = "Your authql sign-in code"


def login_code_message(to: str, code: str, expires_in_minutes: int) -> MailMessage:
    """The one-time code of a sign-in by emailed code."""
    text, markup = render(
        "login_code", {"to": to, "code": code, "expires_in_minutes": str(expires_in_minutes)}
    )
    return MailMessage(to=to, subject=LOGIN_SUBJECT, text=text, html=markup, template="login_code")


def login_no_account_message(to: str) -> MailMessage:
    """Sent instead of a sign-in code when the address has no account; same subject, no code."""
    text, markup = render("login_no_account", {"to": to})
    return MailMessage(to=to, subject=LOGIN_SUBJECT, text=text, html=markup, template="login_no_account")


EMAIL_CHANGE_SUBJECT = "Confirm your new authql address"


def email_change_code_message(to: str, code: str, expires_in_minutes: int) -> MailMessage:
    """The code that moves an account to `to`, the new address."""
    text, markup = render(
        "email_change_code", {"to": to, "code": code, "expires_in_minutes": str(expires_in_minutes)}
    )
    return MailMessage(
        to=to, subject=EMAIL_CHANGE_SUBJECT, text=text, html=markup, template="email_change_code"
    )


def email_change_account_exists_message(to: str) -> MailMessage:
    """Sent instead of the code when the new address has an account; same subject, no code."""
    text, markup = render("email_change_account_exists", {"to": to})
    return MailMessage(
        to=to, subject=EMAIL_CHANGE_SUBJECT, text=text, html=markup, template="email_change_account_exists"
    )


def email_change_requested_message(to: str, new_email: str) -> MailMessage:
    """To the current address when a change is asked for: its owner learns of it before it happens."""
    text, markup = render("email_change_requested", {"to": to, "new_email": new_email})
    return MailMessage(
        to=to,
        subject="A change of your authql address was asked for",
        text=text,
        html=markup,
        template="email_change_requested",
    )


def email_changed_message(to: str, new_email: str) -> MailMessage:
    """To the old address once the change is done: it no longer reaches the account."""
    text, markup = render("email_changed", {"to": to, "new_email": new_email})
    return MailMessage(
        to=to, subject="Your authql address was changed", text=text, html=markup, template="email_changed"
    )


NOTICE_SUBJECT = "Security notice for your authql account"


def two_factor_notice_message(to: str, event: str, *, recovery_codes_left: int = 0) -> MailMessage:
    """A notice, with no secret in it, that two-factor changed or a recovery code was used.

    `event`: "two_factor_enabled", "two_factor_disabled", "recovery_code_used" or
    "recovery_codes_regenerated" (the template's name)."""
    text, markup = render(event, {"to": to, "left": str(recovery_codes_left)})
    return MailMessage(to=to, subject=NOTICE_SUBJECT, text=text, html=markup, template=event)
