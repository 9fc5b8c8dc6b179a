"""Access tokens: issued with every registered claim plus the session id (`sid`), the
user's credential version (`cv`, see documents/user.py) and how the user signed in
(`amr`, RFC 8176: e.g. ["pwd", "otp", "mfa"], so an API can ask for two factors) and when
they last proved it in this session (`auth_time`, OIDC Core: kept across refreshes, so an
operation can ask for a recent sign-in), verified against exactly one
algorithm (the configured one) with every claim required and a small clock skew allowed
between instances (`leeway_seconds`).

HS256 signs with JWT_SECRET; EdDSA and ES256 sign with the key ring of
`security.keys`, so other services can verify tokens from the public JWK Set
without holding a secret that could also mint them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from security import clock
from security.keys import KeyRing
from settings import ConfigurationError, JwtAlgorithm, Settings

REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "sid", "cv"]


class InvalidToken(Exception):
    """The token is malformed, forged, expired, or meant for someone else."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


@dataclass(frozen=True)
class Claims:
    subject: str
    session_id: str
    credential_version: int
    # Epoch seconds of the session's last sign-in; 0 for a token issued before the claim
    # existed (never recent).
    auth_time: int = 0


@dataclass(frozen=True)
class Window:
    """When a verified token is valid, leeway aside: from `opens` until before `closes`."""

    opens: float
    closes: float


VERIFIED_KEPT = 4096  # tokens whose signature was checked, per process (about 2 MB)


class Tokens:
    """Issues and verifies access tokens with one algorithm: HS256 with a shared
    `secret`, or EdDSA / ES256 with a `key_ring` (the newest key signs and names
    itself in the `kid` header; every key in the ring verifies)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        secret: str | None = None,
        key_ring: KeyRing | None = None,
        leeway_seconds: int = 0,
    ) -> None:
        if (secret is None) == (key_ring is None):
            raise ValueError("Tokens needs either a secret (HS256) or a key ring (EdDSA, ES256)")
        self._secret = secret
        self._ring = key_ring
        self._algorithm = "HS256" if key_ring is None else key_ring.algorithm
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds
        self._leeway = leeway_seconds
        self._verified: dict[str, tuple[Claims, Window]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Tokens:
        """HS256 from JWT_SECRET, or the key ring in JWT_KEYS_DIR (read now: a bad key stops start-up)."""
        if settings.jwt_algorithm == JwtAlgorithm.HS256:
            if settings.jwt_secret is None:
                raise ConfigurationError("JWT_ALGORITHM=HS256 needs JWT_SECRET")
            secret, key_ring = settings.jwt_secret, None
        else:
            if settings.jwt_keys_dir is None:
                raise ConfigurationError(f"JWT_ALGORITHM={settings.jwt_algorithm.value} needs JWT_KEYS_DIR")
            secret, key_ring = None, KeyRing.load(settings.jwt_keys_dir, settings.jwt_algorithm.value)
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_seconds=settings.access_token_ttl_seconds,
            secret=secret,
            key_ring=key_ring,
            leeway_seconds=settings.jwt_leeway_seconds,
        )

    def issue(self, subject: str, session_id: str, credential_version: int) -> IssuedToken:
        """Claims and signature in one step, with no amr, roles or hook (sign-in goes through
        `claims`, shown to the custom-claims hook, then `sign`)."""
        return self.sign(self.claims(subject, session_id, credential_version))

    def claims(
        self,
        subject: str,
        session_id: str,
        credential_version: int,
        amr: tuple[str, ...] = (),
        auth_time: int | None = None,
        *,
        roles: tuple[str, ...] = (),
        app_metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The claims `issue` signs (a custom-claims hook is shown them first)."""
        now = int(clock.now())
        return {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "sid": session_id,
            "cv": credential_version,
            "amr": list(amr),
            "auth_time": now if auth_time is None else auth_time,
            "roles": list(roles),
            "app_metadata": app_metadata or {},
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl,
            "jti": secrets.token_urlsafe(16),
        }

    def sign(self, claims: dict[str, Any], extra: dict[str, Any] | None = None) -> IssuedToken:
        """`claims` signed, with `extra` (a hook's, never a registered claim) merged under them."""
        claims = {**(extra or {}), **claims}
        if self._ring is not None:
            key = self._ring.signing
            token = jwt.encode(claims, key.private_key, algorithm=self._algorithm, headers={"kid": key.kid})
        else:
            assert self._secret is not None  # __init__: no ring means a secret
            token = jwt.encode(claims, self._secret, algorithm=self._algorithm)
        return IssuedToken(token, self._ttl)

    def verify(self, token: str) -> Claims:
        """Decode `token`, accepting only our algorithm and only with every claim valid.

        A token that passed is kept with its time window (VERIFIED_KEPT of them): the same
        bytes carry the same signature and claims, and the keys do not change while the
        process runs, so its next use only checks the clock. A signed-in client sends the
        same token for minutes; decoding and HMAC-ing it again was a tenth of a request."""
        kept = self._verified.get(token)
        if kept is not None:
            claims, window = kept
            now = clock.now()
            if window.opens - self._leeway <= now < window.closes + self._leeway:
                return claims
            del self._verified[token]  # out of its window: the full check below says how
        claims, window = self._decode(token)
        if len(self._verified) >= VERIFIED_KEPT:
            del self._verified[next(iter(self._verified))]  # the oldest kept
        self._verified[token] = (claims, window)
        return claims

    def forget_all(self) -> None:
        """Drop every verified token (a new Redis: start from nothing kept)."""
        self._verified.clear()

    def _decode(self, token: str) -> tuple[Claims, Window]:
        try:
            claims = jwt.decode(
                token,
                self._verification_key(token),
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(type(error).__name__) from None
        for name in ("sub", "sid"):
            if not isinstance(claims.get(name), str) or not claims[name]:
                raise InvalidToken(f"Invalid{name.title()}")
        if type(claims["cv"]) is not int:
            raise InvalidToken("InvalidCv")
        auth_time = claims.get("auth_time", 0)
        verified = Claims(
            subject=claims["sub"],
            session_id=claims["sid"],
            credential_version=claims["cv"],
            auth_time=auth_time if type(auth_time) is int else 0,
        )
        # PyJWT accepted exp > now - leeway, nbf <= now + leeway and iat <= now + leeway.
        return verified, Window(opens=max(claims["nbf"], claims["iat"]), closes=claims["exp"])

    def _verification_key(self, token: str) -> Any:
        """The shared secret, or the ring's public key named by the token's `kid`.

        The header is read unverified only to pick the key; `jwt.decode` then pins the
        algorithm, so a token claiming HS256 (e.g. HMAC'd with our public key) or
        `none` fails whatever key it names."""
        if self._ring is None:
            return self._secret
        kid = jwt.get_unverified_header(token).get("kid")
        key = self._ring.find(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("UnknownKeyId")
        return key.public_key

    def jwks(self) -> dict[str, Any] | None:
        """The public keys as a JWK Set, or None with a shared secret (nothing to publish)."""
        return None if self._ring is None else self._ring.jwks()
