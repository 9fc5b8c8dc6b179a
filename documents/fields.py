"""The rules for what people type into an account's fields: emails, names and phones
(the password's are security/password_policy.py's).

Syntax is left to well-kept libraries (email-validator, phonenumbers); these
functions only turn their verdicts into messages a person can act on.
"""

from __future__ import annotations

import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

NAME_MAX = 100
EMAIL_MAX = 254
# Combining marks one letter may carry: enough for any script's real names (Vietnamese,
# Hebrew points with cantillation, Indic vowel signs with a nukta), not a "Zalgo" tower.
MARKS_PER_LETTER = 3


class InvalidValue(ValueError):
    """The value cannot be used; str(error) says why, for the person who typed it."""


def normalize_email(raw: str) -> str:
    """Trimmed, in NFKC form, syntax-checked (no DNS) and lower-cased: the form we store
    and compare. NFKC first, so a look-alike spelling (full-width "ｆｏｏ", ligatures,
    superscripts) is the same address as its plain one, not a second account."""
    candidate = unicodedata.normalize("NFKC", raw).strip()
    if not candidate:
        raise InvalidValue("Enter an email address.")
    if len(candidate) > EMAIL_MAX:
        raise InvalidValue(f"An email address has at most {EMAIL_MAX} characters.")
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidValue(str(error)) from None
    return checked.normalized.lower()


# Characters that render as nothing yet are not spaces or format characters:
# the Hangul fillers (letters, Lo) and the braille blank (a symbol, So).
INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def clean_name(raw: str) -> str:
    """A first or last name in NFKC form, trimmed; 1 to 100 characters.

    No control or format characters, no spaces other than U+0020 (so no line or
    paragraph separators), and at least one visible letter: a name of fillers,
    braille blanks or lone combining marks would print as nothing in a mail. At most
    MARKS_PER_LETTER combining marks in a row: more stack over the lines around them.
    """
    name = unicodedata.normalize("NFKC", raw).strip()
    if not name:
        raise InvalidValue("Must not be empty.")
    if len(name) > NAME_MAX:
        raise InvalidValue(f"Must be at most {NAME_MAX} characters.")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise InvalidValue("Must not contain control characters.")
    if any(unicodedata.category(char).startswith("Z") and char != " " for char in name):
        raise InvalidValue("Must not contain line breaks or special spaces.")
    if any(char in INVISIBLE for char in name):
        raise InvalidValue("Must not contain invisible characters.")
    if not any(unicodedata.category(char).startswith("L") for char in name):
        raise InvalidValue("Must contain at least one letter.")
    if _longest_mark_run(name) > MARKS_PER_LETTER:
        raise InvalidValue(f"Must not stack more than {MARKS_PER_LETTER} accents on one letter.")
    return name


def _longest_mark_run(text: str) -> int:
    """The most combining marks (categories Mn, Mc, Me) that follow one another."""
    longest = run = 0
    for char in text:
        run = run + 1 if unicodedata.category(char).startswith("M") else 0
        longest = max(longest, run)
    return longest


def normalize_phone(raw: str) -> str:
    """A phone number in international form, stored as E.164."""
    try:
        number = phonenumbers.parse(raw.strip(), None)
    except phonenumbers.NumberParseException:
        raise InvalidValue("Enter the number in international form, e.g. +14155550123.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue("This is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
