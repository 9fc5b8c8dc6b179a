"""One Unicode form for every password, so the same password typed on another
keyboard or system (composed or decomposed accents, full-width digits) matches.

New hashes are made of the NFKC form. Hashes made before normalisation came in hold
the raw form: a verify tries the NFKC form first and, only if that fails and the raw
form differs, the raw form once, so nobody is locked out of an old account.
"""

from __future__ import annotations

import unicodedata
from enum import Enum

from security.passwords import Passwords


class Match(Enum):
    NONE = "none"
    NORMALIZED = "normalized"
    # The raw form matched an old hash: rehash the NFKC form at the next chance.
    LEGACY = "legacy"

    def __bool__(self) -> bool:
        return self is not Match.NONE


def normalized(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


async def hash_password(passwords: Passwords, password: str) -> str:
    return await passwords.hash(normalized(password))


async def verify_password(passwords: Passwords, password_hash: str | None, password: str) -> Match:
    """Whether `password` matches; with no hash, one dummy verify per form tried, as for a real one."""
    form = normalized(password)
    if await passwords.verify(password_hash, form):
        return Match.NORMALIZED
    if form != password and await passwords.verify(password_hash, password):
        return Match.LEGACY
    return Match.NONE
