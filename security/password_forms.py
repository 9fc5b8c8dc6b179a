"""One Unicode form for every password, so the same password typed on another
keyboard or system (composed or decomposed accents, full-width digits) matches.

New hashes are made of the NFKC form and say so: the stored hash starts with `nfkc:`
(argon2's own encoding always starts with `$`, so the mark cannot be mistaken for part
of it). Such a hash is verified against the NFKC form only: one argon2 verify per
attempt, whatever the password. Hashes stored without the mark (made before the mark,
some before normalisation, of the raw form) try the NFKC form and, only if that fails
and the raw form differs, the raw form once, so nobody is locked out of an old account;
the next successful login stores them marked. An unknown address costs one verify, as
a marked hash does.
"""

from __future__ import annotations

import unicodedata
from enum import Enum

from security.passwords import Passwords

NFKC_MARK = "nfkc:"


class Match(Enum):
    NONE = "none"
    NORMALIZED = "normalized"
    # A hash stored without the mark matched (either form): store the marked NFKC hash.
    LEGACY = "legacy"

    def __bool__(self) -> bool:
        return self is not Match.NONE


def normalized(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


async def hash_password(passwords: Passwords, password: str) -> str:
    """The hash to store: of the NFKC form, marked as such."""
    return NFKC_MARK + await passwords.hash(normalized(password))


async def verify_password(passwords: Passwords, password_hash: str | None, password: str) -> Match:
    """Whether `password` matches; with no hash (an unknown address, or an account without
    a password), one dummy verify, as for a marked hash."""
    form = normalized(password)
    if not password_hash:
        password_hash = None
    if password_hash is None or password_hash.startswith(NFKC_MARK):
        matched = await passwords.verify(argon2_hash(password_hash), form)
        return Match.NORMALIZED if matched else Match.NONE
    if await passwords.verify(password_hash, form) or (
        form != password and await passwords.verify(password_hash, password)
    ):
        return Match.LEGACY
    return Match.NONE


def needs_rehash(passwords: Passwords, password_hash: str) -> bool:
    """Whether the stored hash was made with other argon2 parameters than today's."""
    return passwords.needs_rehash(password_hash.removeprefix(NFKC_MARK))


def argon2_hash(password_hash: str | None) -> str | None:
    """The argon2 encoding of a stored hash, without the NFKC mark."""
    return password_hash.removeprefix(NFKC_MARK) if password_hash is not None else None
