"""Signing keys for EdDSA (Ed25519) and ES256 (P-256) access tokens: a key ring read
from JWT_KEYS_DIR at start-up.

Every `*.pem` file in the directory is a private key of the configured algorithm.
All of them verify; the newest one signs. "Newest" is the file's modification time
(mtime), ties broken by file name, so `touch` makes a key the signer (and a plain
`cp` into the directory makes the copy the newest; `cp -p` keeps the order). Each key's
`kid` is its RFC 7638 JWK thumbprint: derived from the public key, never
configured, and the same on every instance that holds the key.

Rotation: add a new key file and restart. New tokens carry the new `kid`; tokens
signed by an older key stay valid until its file is removed (wait one access-token
lifetime first). With several instances, give every instance the new file before
any of them restarts with it, or tokens from the first ones will be refused by the
rest for a while; outside verifiers that cache the JWK Set refetch it when they meet
an unknown `kid` (or after its Cache-Control max-age).

A file that is unreadable, not a private key, a key of the wrong type, or readable or
writable by group or others (anything looser than 0600) stops the server at start-up
with a ConfigurationError naming the file.

Generating a key, from the project directory (the file is created with mode 0600,
DIR with 0700 if it is new; an existing file is never overwritten):

    ./run python -m security.keys generate EdDSA|ES256 DIR   # writes DIR/<UTC timestamp>.pem
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from settings import ConfigurationError

PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey

ALGORITHMS = ("EdDSA", "ES256")
KEY_TYPES = {"EdDSA": "Ed25519", "ES256": "EC P-256"}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    path: Path
    private_key: PrivateKey
    public_key: PublicKey
    public_jwk: dict[str, str]


class KeyRing:
    """Every key of one algorithm; `signing` is the newest, `find(kid)` any of them."""

    def __init__(self, algorithm: str, keys: list[SigningKey]) -> None:
        if not keys:
            raise ConfigurationError("a key ring needs at least one key")
        self.algorithm = algorithm
        self._keys = keys  # oldest first
        self._by_kid = {key.kid: key for key in keys}

    @classmethod
    def load(cls, directory: Path, algorithm: str) -> KeyRing:
        """Read every `*.pem` in `directory`, oldest first (mtime, then name)."""
        if algorithm not in ALGORITHMS:
            raise ConfigurationError(f"a key ring needs EdDSA or ES256, not {algorithm!r}")
        if not directory.is_dir():
            raise ConfigurationError(f"JWT_KEYS_DIR {directory} is not a directory")
        paths = sorted(directory.glob("*.pem"), key=lambda path: (path.stat().st_mtime_ns, path.name))
        if not paths:
            raise ConfigurationError(
                f"JWT_KEYS_DIR {directory} holds no *.pem key; "
                f"create one with `python -m security.keys generate {algorithm} {directory}`"
            )
        return cls(algorithm, [load_key(path, algorithm) for path in paths])

    @property
    def signing(self) -> SigningKey:
        return self._keys[-1]

    def find(self, kid: str) -> SigningKey | None:
        return self._by_kid.get(kid)

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set, newest key first; public members only."""
        return {"keys": [dict(key.public_jwk) for key in reversed(self._keys)]}


def load_key(path: Path, algorithm: str) -> SigningKey:
    """One PEM private key file, checked against the algorithm it must serve."""
    refuse_loose_permissions(path, "JWT_KEYS_DIR")
    try:
        private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as error:
        # TypeError: the key is encrypted; authql reads keys without a passphrase.
        raise ConfigurationError(f"JWT_KEYS_DIR: cannot read a private key from {path}: {error}") from None
    if not fits(private_key, algorithm):
        raise ConfigurationError(
            f"JWT_KEYS_DIR: {path} holds {describe(private_key)}, "
            f"but JWT_ALGORITHM={algorithm} needs an {KEY_TYPES[algorithm]} key"
        )
    public_key = private_key.public_key()
    members = jwk_members(public_key)
    kid = thumbprint(members)
    jwk = {**members, "kid": kid, "alg": algorithm, "use": "sig"}
    return SigningKey(kid=kid, path=path, private_key=private_key, public_key=public_key, public_jwk=jwk)


def refuse_loose_permissions(path: Path, variable: str) -> None:
    """A secret file that group or others may read has leaked already, or soon will: refuse to
    start rather than sign with it (`generate` writes keys 0600)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # reading it fails next, with the reason
    if os.name == "posix" and stat.S_ISREG(mode) and mode & 0o077:
        raise ConfigurationError(
            f"{variable}: {path} is readable or writable by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); make it owner-only: chmod 600 {path}"
        )


def fits(private_key: object, algorithm: str) -> TypeGuard[PrivateKey]:
    """Ed25519 for EdDSA; P-256 only for ES256 (another curve would sign, but not as ES256)."""
    if algorithm == "EdDSA":
        return isinstance(private_key, Ed25519PrivateKey)
    return isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(private_key.curve, ec.SECP256R1)


def describe(private_key: object) -> str:
    """`an EC secp384r1 key`, `an RSAPrivateKey`: enough for an operator to see the mix-up."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return f"an EC {private_key.curve.name} key"
    return f"a {type(private_key).__name__.lstrip('_')}"


def jwk_members(public_key: PublicKey) -> dict[str, str]:
    """The RFC 7638 required members of the public JWK (no private parts exist here)."""
    if isinstance(public_key, Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def thumbprint(members: dict[str, str]) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, without whitespace."""
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return b64url(hashlib.sha256(canonical).digest())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate(algorithm: str, directory: Path) -> Path:
    """Write a new private key as `directory/<UTC timestamp>.pem`, readable by its owner only."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be EdDSA or ES256, not {algorithm!r}")
    private_key: PrivateKey = (
        Ed25519PrivateKey.generate() if algorithm == "EdDSA" else ec.generate_private_key(ec.SECP256R1())
    )
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / (datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + ".pem")
    # O_EXCL: never overwrite a key; 0o600 from creation, so the key is never world-readable.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "generate" or argv[1] not in ALGORITHMS:
        print("usage: python -m security.keys generate EdDSA|ES256 DIR", file=sys.stderr)
        return 2
    path = generate(argv[1], Path(argv[2]))
    print(f"{path} (kid {load_key(path, argv[1]).kid})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
