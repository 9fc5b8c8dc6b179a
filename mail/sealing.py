"""Mail at rest: sealed (security/sealing.py) under its own key, derived from the server's
secret with the label "authql outbox mail".

A queued mail may hold a live code, so the outbox never stores it in the clear; each
sealed value is bound to its outbox id, so a sealed body cannot be moved onto another
record.
"""

from __future__ import annotations

import json
from typing import Any

from security.sealing import Seal, Unsealable

__all__ = ["MailSeal", "Unsealable"]


class MailSeal:
    def __init__(self, secret: bytes) -> None:
        self._seal = Seal(secret, b"authql outbox mail")

    def seal(self, record_id: str, value: dict[str, Any]) -> str:
        return self._seal.seal_bytes(record_id, json.dumps(value).encode())

    def open(self, record_id: str, sealed: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self._seal.open_bytes(record_id, sealed))
        return value
