"""Data keys: the ring every HMAC key and every sealed value derives from, apart from
the key that signs access tokens (JWT_SECRET or JWT_KEYS_DIR).

Where the keys come from (settings.py; README, "Rotating keys"):

- `DATA_KEYS`: comma-separated `id:base64` entries, the current key first;
- `DATA_KEYS_DIR`: a folder with one key per file, the file name its id, its content the
  key in base64; owner-only files (like JWT_KEYS_DIR). The current key is the file whose
  name sorts last (`python -m security.keyring generate DIR` names them by UTC time),
  except that a file named `legacy` always sorts first;
- neither, but JWT_SECRET set (deployments from before data keys): one key, `legacy`, whose
  bytes are JWT_SECRET's, so everything keyed or sealed before still opens.

A key whose id is `legacy` derives exactly as authql did before data keys: HMAC-SHA256
(secret, label) for HMAC keys, HKDF for sealing keys. Every other key derives with
HKDF-SHA256 (no salt: the key is already uniform random), the label as its info, so no
two purposes share a key.

Sealed values are `<key id>:<base64(nonce | AES-GCM ciphertext)>`, bound to their record
(the associated data); a value without `<key id>:` is one sealed before data keys, read
with the `legacy` key. The current key seals; every key in the ring opens; a value
sealed under an older key is resealed by whoever opens it, where it is worth it (TOTP
secrets: resolvers/two_factor.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from security.keys import refuse_loose_permissions
from settings import (
    DATA_KEY_ID,
    LEGACY_DATA_KEY_ID,
    MAX_DATA_KEYS,
    ConfigurationError,
    Settings,
    data_key_entries,
    decode_data_key,
)

# One label per purpose. Renaming one re-keys what it keys.
TOTP_SECRETS = "authql totp secret"
OUTBOX_MAIL = "authql outbox mail"
REFRESH_GRACE = "authql refresh grace"
REFRESH_TOKENS = "authql refresh tokens"
RECOVERY_CODES = "authql recovery codes"
ONE_TIME_CODES = "authql one-time codes"
LOGIN_LOCKOUT = "authql login lockout"
EVENT_FINGERPRINTS = "authql event fingerprints"
KNOWN_CLIENTS = "authql known clients"
WEBHOOK_SECRETS = "authql webhook secrets"
WEBHOOK_PAYLOADS = "authql webhook payloads"
PASSKEY_DECOYS = "authql passkey decoys"
ADMIN_KEYS = "authql admin keys"
# Before data keys these two were HKDF keys (security/sealing.py), every other label an HMAC.
LEGACY_HKDF_LABELS = frozenset({TOTP_SECRETS, OUTBOX_MAIL})

NONCE_BYTES = 12
KEY_BYTES = 32


class Unsealable(Exception):
    """A sealed value that does not open: its key is not in the ring, or it was tampered with."""


@dataclass(frozen=True)
class DataKey:
    id: str
    secret: bytes = field(repr=False)


class KeyRing:
    """The data keys, current first. `derive` gives one purpose's key; `seal` and `open`
    keep values at rest under the current key, readable under any key in the ring."""

    def __init__(self, keys: list[DataKey]) -> None:
        if not keys:
            raise ConfigurationError("the data-key ring needs at least one key")
        if len({key.id for key in keys}) != len(keys):
            raise ConfigurationError("data-key ids must be unique")
        self._keys = {key.id: key for key in keys}
        self.ids: tuple[str, ...] = tuple(key.id for key in keys)
        self._derived: dict[tuple[str, str], bytes] = {}
        self._aeads: dict[tuple[str, str], AESGCM] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """DATA_KEYS, else DATA_KEYS_DIR (read now: a bad file stops start-up), else the
        `legacy` key from JWT_SECRET."""
        if settings.data_keys is not None:
            return cls([DataKey(kid, secret) for kid, secret in data_key_entries(settings.data_keys)])
        if settings.data_keys_dir is not None:
            return cls(load_dir(settings.data_keys_dir))
        if settings.jwt_secret is not None:
            return cls([DataKey(LEGACY_DATA_KEY_ID, settings.jwt_secret.encode())])
        raise ConfigurationError("set DATA_KEYS or DATA_KEYS_DIR (or JWT_SECRET, for the legacy key)")

    @property
    def current_id(self) -> str:
        return self.ids[0]

    def derive(self, label: str, key_id: str | None = None) -> bytes:
        """The 32-byte key of `label` under `key_id` (the current key by default)."""
        kid = key_id or self.current_id
        cached = self._derived.get((label, kid))
        if cached is None:
            key = self._keys.get(kid)
            if key is None:
                raise KeyError(kid)
            cached = derive(key, label)
            self._derived[(label, kid)] = cached
        return cached

    def derived(self, label: str) -> list[tuple[str, bytes]]:
        """(key id, key) of `label` for every key in the ring, current first: for checking an
        HMAC made under any of them (a handful of keys at most, MAX_DATA_KEYS)."""
        return [(kid, self.derive(label, kid)) for kid in self.ids]

    def seal(self, label: str, plaintext: bytes, aad: bytes, *, holder: bytes | None = None) -> str:
        """`plaintext` sealed under the current key, bound to `aad`. With `holder`, the key is
        also keyed by that secret, so only whoever presents it again can open the value."""
        kid = self.current_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead(label, kid, holder).encrypt(nonce, plaintext, aad)
        return f"{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, label: str, sealed: str, aad: bytes, *, holder: bytes | None = None) -> bytes:
        """What `seal` sealed, under whichever key of the ring sealed it; Unsealable otherwise."""
        kid, body = split_sealed(sealed)
        if kid not in self._keys:
            raise Unsealable()
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            return self._aead(label, kid, holder).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise Unsealable() from None

    def is_current(self, sealed: str) -> bool:
        """Whether `sealed` is under the current key (else it is worth resealing)."""
        return split_sealed(sealed)[0] == self.current_id

    def _aead(self, label: str, kid: str, holder: bytes | None) -> AESGCM:
        if holder is not None:
            return AESGCM(hmac.new(self.derive(label, kid), holder, hashlib.sha256).digest())
        aead = self._aeads.get((label, kid))
        if aead is None:
            aead = self._aeads[(label, kid)] = AESGCM(self.derive(label, kid))
        return aead


def derive(key: DataKey, label: str) -> bytes:
    if key.id == LEGACY_DATA_KEY_ID and label not in LEGACY_HKDF_LABELS:
        return hmac.new(key.secret, label.encode(), hashlib.sha256).digest()
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label.encode()).derive(
        key.secret
    )


def split_sealed(sealed: str) -> tuple[str, str]:
    """(key id, body); a value from before data keys has no id (base64 holds no `:`)."""
    kid, colon, body = sealed.partition(":")
    return (kid, body) if colon else (LEGACY_DATA_KEY_ID, sealed)


def load_dir(directory: Path) -> list[DataKey]:
    """Every key file of DATA_KEYS_DIR, current (the name that sorts last) first."""
    if not directory.is_dir():
        raise ConfigurationError(f"DATA_KEYS_DIR {directory} is not a directory")
    paths = [path for path in directory.iterdir() if not path.name.startswith(".")]
    if not paths:
        raise ConfigurationError(
            f"DATA_KEYS_DIR {directory} holds no key; "
            f"create one with `python -m security.keyring generate {directory}`"
        )
    if len(paths) > MAX_DATA_KEYS:
        raise ConfigurationError(f"DATA_KEYS_DIR {directory} holds more than {MAX_DATA_KEYS} keys")
    paths.sort(key=lambda path: (path.name != LEGACY_DATA_KEY_ID, path.name), reverse=True)
    return [load_key(path) for path in paths]


def load_key(path: Path) -> DataKey:
    if not DATA_KEY_ID.fullmatch(path.name):
        raise ConfigurationError(f"DATA_KEYS_DIR: {path.name!r} is not a key id (letters, digits, . _ -)")
    refuse_loose_permissions(path, "DATA_KEYS_DIR")
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"DATA_KEYS_DIR: cannot read {path}: {error}") from None
    try:
        return DataKey(path.name, decode_data_key(text))
    except ValueError as error:
        raise ConfigurationError(f"DATA_KEYS_DIR: {path}: {error}") from None


def write_key(directory: Path, key_id: str, secret: bytes) -> Path:
    """Write `secret` as `directory/key_id`, owner-only from creation, never over a file."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / key_id
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(base64.b64encode(secret).decode() + "\n")
    return path


def generate(directory: Path) -> Path:
    """A new random key named by the UTC time, so it sorts last and becomes the current key."""
    key_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return write_key(directory, key_id, os.urandom(KEY_BYTES))


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "generate":
        print("usage: python -m security.keyring generate DIR", file=sys.stderr)
        return 2
    print(generate(Path(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
