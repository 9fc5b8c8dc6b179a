"""Mail at rest: AES-GCM under a key derived from the server's secret.

A queued mail may hold a live code, so the outbox never stores it in the clear. The
key comes from JWT_SECRET through HKDF with its own label, so it is not the key that
signs tokens; each sealed value is bound to its outbox id (the associated data), so a
sealed body cannot be moved onto another record.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class Unsealable(Exception):
    """A sealed value that does not open: another secret (JWT_SECRET changed) or tampered."""


class MailSeal:
    def __init__(self, secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"authql outbox mail").derive(secret)
        self._aead = AESGCM(key)

    def seal(self, record_id: str, value: dict[str, Any]) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, json.dumps(value).encode(), record_id.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, record_id: str, sealed: str) -> dict[str, Any]:
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], record_id.encode())
        except (InvalidTag, ValueError):
            raise Unsealable() from None
        value: dict[str, Any] = json.loads(plain)
        return value
