"""The mails authql sends: registration, password-reset, sign-in and email-change codes,
their codeless twins for addresses on the other side ("account exists", "no account"),
the notices of an email change to the account's current address, the two-factor
notices, the notices of a password change and of second factors being guessed, and the
notice of a sign-in by code from a new client.

Each code mail and its twin share one subject: an observer who sees only the subject
(or the fact that a mail went out) cannot tell whether the address has an account.
"""

from __future__ import annotations

from .message import MailMessage
from .render import render

SUBJECT = "Your authql verification code"
RESET_SUBJECT = "Your authql password reset code"
LOGIN_SUBJECT = "Your authql sign-in code"
EMAIL_CHANGE_SUBJECT = "Confirm your new authql address"
NOTICE_SUBJECT = "Security notice for your authql account"


def registration_code_message(to: str, code: str, expires_in_minutes: int) -> MailMessage:
    """The one-time code for a new registration; the code stays out of the subject."""
    return _code_message("registration_code", to, SUBJECT, code, expires_in_minutes)


def account_exists_message(to: str) -> MailMessage:
    """Sent instead of a code when the address already has an account; it holds no code."""
    return _message("account_exists", to, SUBJECT)


def password_reset_code_message(to: str, code: str, expires_in_minutes: int) -> MailMessage:
    return _code_message("password_reset_code", to, RESET_SUBJECT, code, expires_in_minutes)


def password_reset_no_account_message(to: str) -> MailMessage:
    """Sent instead of a code when the address has no account; same subject, no code."""
    return _message("password_reset_no_account", to, RESET_SUBJECT)


def login_code_message(to: str, code: str, expires_in_minutes: int) -> MailMessage:
    """The one-time code of a sign-in by emailed code."""
    return _code_message("login_code", to, LOGIN_SUBJECT, code, expires_in_minutes)


def login_no_account_message(to: str) -> MailMessage:
    """Sent instead of a sign-in code when the address has no account; same subject, no code."""
    return _message("login_no_account", to, LOGIN_SUBJECT)


def email_change_code_message(to: str, code: str, expires_in_minutes: int) -> MailMessage:
    """The code that moves an account to `to`, the new address."""
    return _code_message("email_change_code", to, EMAIL_CHANGE_SUBJECT, code, expires_in_minutes)


def email_change_account_exists_message(to: str) -> MailMessage:
    """Sent instead of the code when the new address has an account; same subject, no code."""
    return _message("email_change_account_exists", to, EMAIL_CHANGE_SUBJECT)


def email_change_requested_message(to: str, new_email: str) -> MailMessage:
    """To the current address when a change is asked for: its owner learns of it before it happens."""
    subject = "A change of your authql address was asked for"
    return _message("email_change_requested", to, subject, new_email=new_email)


def email_changed_message(to: str, new_email: str) -> MailMessage:
    """To the old address once the change is done: it no longer reaches the account."""
    return _message("email_changed", to, "Your authql address was changed", new_email=new_email)


def two_factor_notice_message(to: str, event: str, *, recovery_codes_left: int = 0) -> MailMessage:
    """A notice, with no secret in it, that two-factor changed or a recovery code was used.

    `event`: "two_factor_enabled", "two_factor_disabled", "recovery_code_used" or
    "recovery_codes_regenerated" (the template's name)."""
    return _message(event, to, NOTICE_SUBJECT, left=str(recovery_codes_left))


def password_changed_message(to: str) -> MailMessage:
    """To the account's address when its password was changed while signed in."""
    return _message("password_changed", to, NOTICE_SUBJECT)


def second_factor_guessed_message(to: str) -> MailMessage:
    """To the account's address the first time (in a day) wrong second factors used up a
    window of tries: someone has the password, and the owner should change it."""
    return _message("second_factor_guessed", to, NOTICE_SUBJECT)


def new_code_sign_in_message(to: str, client: str) -> MailMessage:
    """A sign-in by emailed code from a client (an IP address or IPv6 prefix) the account
    had not signed in from: whoever reads the owner's mail can sign in, so the owner hears of it."""
    return _message("new_code_sign_in", to, NOTICE_SUBJECT, client=client)


def invite_code_message(to: str, code: str, expires_in_minutes: int, login_id: str) -> MailMessage:
    """An account an operator made (admin createUser): its first sign-in code, with the id of
    the sign-in by code it completes."""
    return _message(
        "invite_code",
        to,
        LOGIN_SUBJECT,
        code=code,
        expires_in_minutes=str(expires_in_minutes),
        login_id=login_id,
    )


def email_set_by_operator_message(to: str, old_email: str) -> MailMessage:
    """To the new address when an operator moved the account there (admin updateUser)."""
    return _message("email_set_by_operator", to, "Your authql address was changed", old_email=old_email)


def passkey_notice_message(to: str, event: str, name: str) -> MailMessage:
    """A passkey was added to or removed from the account (`event`: "passkey_added" or
    "passkey_removed", the template's name); `name` is the passkey's."""
    return _message(event, to, NOTICE_SUBJECT, name=name)


def _code_message(template: str, to: str, subject: str, code: str, expires_in_minutes: int) -> MailMessage:
    return _message(template, to, subject, code=code, expires_in_minutes=str(expires_in_minutes))


def _message(template: str, to: str, subject: str, **values: str) -> MailMessage:
    """The mail of `template` (its .txt and .html), filled with `to` and `values`."""
    text, markup = render(template, {"to": to, **values})
    return MailMessage(to=to, subject=subject, text=text, html=markup, template=template)
