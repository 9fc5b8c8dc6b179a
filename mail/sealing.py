"""Mail at rest: sealed by the data-key ring (security/keyring.py) under its own label,
"authql outbox mail".

A queued mail may hold a live code, so the outbox never stores it in the clear; each
sealed value is bound to its outbox id, so a sealed body cannot be moved onto another
record. A mail lives at most the outbox's retries (about an hour at the defaults), so it
is not resealed: retire a data key once the mail sealed under it is sent or abandoned.
"""

from __future__ import annotations

import json
from typing import Any

from security.keyring import OUTBOX_MAIL, KeyRing, Unsealable

__all__ = ["MailSeal", "Unsealable"]


class MailSeal:
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    def seal(self, record_id: str, value: dict[str, Any]) -> str:
        return self._ring.seal(OUTBOX_MAIL, json.dumps(value).encode(), record_id.encode())

    def open(self, record_id: str, sealed: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self._ring.open(OUTBOX_MAIL, sealed, record_id.encode()))
        return value
