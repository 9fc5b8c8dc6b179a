"""Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-id`,
`webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
several space-separated while a rotated secret still signs. Used for webhook deliveries
and for the synchronous hooks (security/hooks.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from security import clock

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, `whsec_<base64>`."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(signing_secrets: list[str], message_id: str, body: bytes) -> dict[str, str]:
    """The three headers for `body`, signed now with each secret (the current one first)."""
    timestamp = int(clock.now())
    signatures = " ".join(
        signature(secret_key(secret), message_id, timestamp, body) for secret in signing_secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }


def message_id() -> str:
    return "msg_" + secrets.token_hex(16)
