"""Passkeys (WebAuthn), the relying party's side: the options a browser passes to
navigator.credentials, the challenges behind them, and the verification of what the
authenticator answers, all through Duo Labs' py_webauthn (`webauthn`).

A challenge is 32 random bytes kept in Redis for two minutes under an opaque id, with
what it was issued for: a registration for one account, or a sign-in for one address (as
typed) or for whoever holds a discoverable credential. It is taken with GETDEL before the
answer is verified, so of two requests presenting it, one gets it, and a failed
verification spends it too.

An address with no passkey here (no account, or an account without one) gets options of
the same shape as one with passkeys: decoy credential ids derived from the address with
a data key, the same on every ask, so asking twice tells nothing either."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from redis.asyncio import Redis
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

CHALLENGE_TTL_SECONDS = 120
CHALLENGE_BYTES = 32
USER_HANDLE_BYTES = 32
# ES256 first: what platform authenticators make; EdDSA and RS256 (Windows Hello) beside it.
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
# Decoys look like the credential ids platforms make (16 to 32 bytes), with their transports.
DECOY_LENGTHS = (16, 20, 32, 32)
DECOY_TRANSPORTS = [AuthenticatorTransport.HYBRID, AuthenticatorTransport.INTERNAL]
KEY_PREFIX = "passkey-challenge:"
MAX_CHALLENGE_ID = 64


class Purpose(StrEnum):
    REGISTRATION = "registration"
    SIGN_IN = "sign_in"


@dataclass(frozen=True)
class Ceremony:
    """What a challenge was issued for: `user_id` for a registration; `address` (the
    normalised email typed, or None for a usernameless sign-in) for a sign-in."""

    purpose: Purpose
    challenge: bytes
    user_id: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class NewCredential:
    """A verified new credential, as it is stored (ids and key in base64url)."""

    credential_id: str
    public_key: str
    sign_count: int
    aaguid: str
    multi_device: bool
    backed_up: bool
    transports: list[str]
    attachment: str | None


@dataclass(frozen=True)
class Issued:
    challenge_id: str
    options_json: str
    expires_at: datetime


class PasskeyRefused(Exception):
    """The authenticator's answer did not verify, or cannot be read; `reason` is for the
    security log (py_webauthn's message names the check, never a secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def new_user_handle() -> str:
    return bytes_to_base64url(secrets.token_bytes(USER_HANDLE_BYTES))


def descriptor(credential_id: str, transports: list[str]) -> PublicKeyCredentialDescriptor:
    known = {transport.value for transport in AuthenticatorTransport}
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(credential_id),
        transports=[AuthenticatorTransport(each) for each in transports if each in known] or None,
    )


class PasskeyCeremonies:
    """The relying party (RP id, name, origins) and its challenges in Redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        rp_id: str,
        rp_name: str,
        origins: tuple[str, ...],
        decoy_key: bytes,
        ttl_seconds: int = CHALLENGE_TTL_SECONDS,
    ) -> None:
        self._redis = redis
        self.rp_id = rp_id
        self.rp_name = rp_name
        self.origins = list(origins)
        self._decoy_key = decoy_key
        self.ttl_seconds = ttl_seconds

    async def registration(
        self,
        *,
        user_id: str,
        user_handle: str,
        email: str,
        display_name: str,
        exclude: list[PublicKeyCredentialDescriptor],
    ) -> Issued:
        """Options for a new discoverable, user-verifying passkey of `user_id`."""
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_id=base64url_to_bytes(user_handle),
            user_name=email,
            user_display_name=display_name or email,
            challenge=challenge,
            timeout=self.ttl_seconds * 1000,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                require_resident_key=True,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=exclude,
            supported_pub_key_algs=ALGORITHMS,
        )
        ceremony = Ceremony(Purpose.REGISTRATION, challenge, user_id=user_id)
        return await self._issue(ceremony, options_to_json(options))

    async def sign_in(self, address: str | None, allow: list[PublicKeyCredentialDescriptor] | None) -> Issued:
        """Options for a sign-in: `allow` lists the passkeys of `address`'s account (or its
        decoys); None for a usernameless sign-in (the browser offers what it holds)."""
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        options = generate_authentication_options(
            rp_id=self.rp_id,
            challenge=challenge,
            timeout=self.ttl_seconds * 1000,
            allow_credentials=allow or [],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        ceremony = Ceremony(Purpose.SIGN_IN, challenge, address=address)
        return await self._issue(ceremony, options_to_json(options))

    def decoys(self, address: str) -> list[PublicKeyCredentialDescriptor]:
        """Credential ids for an address with no passkey here: derived from it, so each ask
        answers the same, shaped like real ones (one or two, of common lengths)."""
        seed = hmac.new(self._decoy_key, address.encode(), hashlib.sha256).digest()
        count = 2 if seed[0] % 4 == 0 else 1
        found = []
        for index in range(count):
            raw = hmac.new(self._decoy_key, seed + bytes([index]), hashlib.sha256).digest()
            length = DECOY_LENGTHS[raw[0] % len(DECOY_LENGTHS)]
            found.append(PublicKeyCredentialDescriptor(id=raw[:length], transports=list(DECOY_TRANSPORTS)))
        return found

    async def _issue(self, ceremony: Ceremony, options_json: str) -> Issued:
        challenge_id = secrets.token_urlsafe(24)
        record = {
            "purpose": ceremony.purpose.value,
            "challenge": bytes_to_base64url(ceremony.challenge),
            "user_id": ceremony.user_id,
            "address": ceremony.address,
        }
        await self._redis.set(_key(challenge_id), json.dumps(record), ex=self.ttl_seconds)
        expires_at = (datetime.now(UTC) + timedelta(seconds=self.ttl_seconds)).replace(microsecond=0)
        return Issued(challenge_id, options_json, expires_at)

    async def take(self, challenge_id: str) -> Ceremony | None:
        """The challenge's ceremony, removed in the same command (GETDEL): None when unknown,
        expired or already taken."""
        if not 0 < len(challenge_id) <= MAX_CHALLENGE_ID:
            return None
        stored = await self._redis.getdel(_key(challenge_id))
        if stored is None:
            return None
        record = json.loads(stored)
        return Ceremony(
            purpose=Purpose(record["purpose"]),
            challenge=base64url_to_bytes(record["challenge"]),
            user_id=record["user_id"],
            address=record["address"],
        )

    def verify_registration(self, ceremony: Ceremony, credential_json: str) -> NewCredential:
        """The new credential, checked against the ceremony's challenge, the RP id and the
        origins, with user verification, among ALGORITHMS; else PasskeyRefused."""
        try:
            credential: RegistrationCredential = parse_registration_credential_json(credential_json)
            verified: VerifiedRegistration = verify_registration_response(
                credential=credential,
                expected_challenge=ceremony.challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
                require_user_verification=True,
                supported_pub_key_algs=ALGORITHMS,
            )
        except Exception as error:  # noqa: BLE001 - any unreadable answer is a refusal
            raise PasskeyRefused(_reason(error)) from None
        attachment = credential.authenticator_attachment
        return NewCredential(
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            aaguid=verified.aaguid,
            multi_device=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
            backed_up=verified.credential_backed_up,
            transports=[each.value for each in credential.response.transports or []],
            attachment=attachment.value if attachment is not None else None,
        )

    def verify_assertion(
        self, ceremony: Ceremony, credential: AuthenticationCredential, public_key: str
    ) -> VerifiedAuthentication:
        """The assertion, checked against the ceremony's challenge, the RP id, the origins
        and the stored public key, with user verification; the counter is left to the
        caller (it is compared once the signature is known good). Else PasskeyRefused."""
        try:
            return verify_authentication_response(
                credential=credential,
                expected_challenge=ceremony.challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
                credential_public_key=base64url_to_bytes(public_key),
                credential_current_sign_count=0,
                require_user_verification=True,
            )
        except Exception as error:  # noqa: BLE001
            raise PasskeyRefused(_reason(error)) from None


def read_assertion(credential_json: str) -> AuthenticationCredential:
    """The assertion's toJSON(), parsed (not verified); else PasskeyRefused."""
    try:
        credential = parse_authentication_credential_json(credential_json)
    except Exception as error:  # noqa: BLE001
        raise PasskeyRefused(_reason(error)) from None
    if bytes_to_base64url(credential.raw_id) != credential.id:
        raise PasskeyRefused("id and rawId differ")
    return credential


def counter_went_back(stored: int, presented: int) -> bool:
    """Whether a signature counter says the credential was copied: once either is non-zero,
    each sign-in must show a higher count than the last (WebAuthn §6.1.1)."""
    return (stored > 0 or presented > 0) and presented <= stored


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:200]


def _key(challenge_id: str) -> str:
    """The challenge's Redis key (hash-tagged, as every key family is, for Redis Cluster)."""
    return KEY_PREFIX + "{" + challenge_id + "}"
