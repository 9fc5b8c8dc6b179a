"""The password policy: length, not the email's local part, not a common password.

Judged on the NFKC form the password is hashed in (security/password_forms.py), with
zxcvbn's frequency list (MIT) for the common ones. schema/problems.py states the same
rules for the schema (PASSWORD_RULES).
"""

from __future__ import annotations

import unicodedata
from functools import cache

PASSWORD_MIN = 8
PASSWORD_MAX = 128


def password_problems(raw: str, email: str) -> list[str]:
    """Every reason the password (judged in the NFKC form it is hashed in) is refused;
    empty when it is acceptable."""
    password = unicodedata.normalize("NFKC", raw)
    reasons = []
    if len(password) < PASSWORD_MIN:
        reasons.append(f"Use at least {PASSWORD_MIN} characters.")
    if len(password) > PASSWORD_MAX:
        reasons.append(f"Use at most {PASSWORD_MAX} characters.")
    local_part = email.partition("@")[0].lower()
    lowered = password.lower()
    # A one- or two-letter local part would forbid half the alphabet; equality still counts.
    if lowered == local_part or (len(local_part) >= 3 and local_part in lowered):
        reasons.append("Do not use your email address in your password.")
    # A too-short password already has its reason; the list holds many short ones.
    if len(password) >= PASSWORD_MIN and lowered in common_passwords():
        reasons.append("This is one of the most common passwords; attackers try it first.")
    return reasons


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (lower-case) of zxcvbn's frequency list (MIT),
    loaded on first use."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])
