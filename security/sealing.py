"""Values at rest that the database alone must not yield: AES-GCM under a key derived
from the server's secret (JWT_SECRET) through HKDF, one key per purpose (its label), so
no sealed value opens under another purpose's key, nor is any of them the key that signs
tokens. Each value is bound to the record it belongs to (the associated data), so it
cannot be moved onto another record. The outbox's mail and the TOTP secrets use it."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class Unsealable(Exception):
    """A sealed value that does not open: another secret (JWT_SECRET changed) or tampered."""


class Seal:
    def __init__(self, secret: bytes, purpose: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)
        self._aead = AESGCM(key)

    def seal_bytes(self, record_id: str, value: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value, record_id.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open_bytes(self, record_id: str, sealed: str) -> bytes:
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], record_id.encode())
        except (InvalidTag, ValueError):
            raise Unsealable() from None
