"""Outgoing mail: the messages authql sends and the mailers that deliver them."""

from .console import ConsoleMailer
from .errors import MailUnavailable
from .message import Mailer, MailMessage
from .messages import (
    account_exists_message,
    email_change_account_exists_message,
    email_change_code_message,
    email_change_requested_message,
    email_changed_message,
    email_set_by_operator_message,
    invite_code_message,
    login_code_message,
    login_no_account_message,
    new_code_sign_in_message,
    passkey_notice_message,
    password_changed_message,
    password_reset_code_message,
    password_reset_no_account_message,
    registration_code_message,
    second_factor_guessed_message,
    two_factor_notice_message,
)
from .smtp import SmtpMailer

__all__ = [
    "ConsoleMailer",
    "MailMessage",
    "MailUnavailable",
    "Mailer",
    "SmtpMailer",
    "account_exists_message",
    "email_change_account_exists_message",
    "email_change_code_message",
    "email_change_requested_message",
    "email_changed_message",
    "email_set_by_operator_message",
    "invite_code_message",
    "login_code_message",
    "login_no_account_message",
    "new_code_sign_in_message",
    "passkey_notice_message",
    "password_reset_code_message",
    "password_changed_message",
    "password_reset_no_account_message",
    "registration_code_message",
    "second_factor_guessed_message",
    "two_factor_notice_message",
]
