"""A software WebAuthn authenticator and the browser around it, for the passkey tests:
it reads the server's options JSON, makes ES256 discoverable credentials (attestation
none) and signs assertions, answering the credential's toJSON() as a browser would.

Built on `cryptography` (the P-256 key, ECDSA) and `cbor2` (the attestation object and
the COSE key), with knobs for each way an answer can be wrong: the origin the "browser"
writes, the RP id hash the authenticator signs, the UP/UV/BE/BS flags, the counter, and
a signature by another key."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
ES256 = -7


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class NotAllowed(Exception):
    """What navigator.credentials answers when no credential fits (NotAllowedError), or
    when excludeCredentials names one this authenticator holds (InvalidStateError)."""


@dataclass
class Credential:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    user_name: str
    sign_count: int = 0


@dataclass
class Authenticator:
    """One platform authenticator with its browser: `origin` is the page's origin the
    client data names. `counting`: whether it keeps a signature counter (synced passkeys
    do not: theirs stays 0). `synced`: backup eligible and backed up."""

    origin: str
    counting: bool = True
    synced: bool = False
    credentials: list[Credential] = field(default_factory=list)

    # ------------------------------------------------------------ navigator.credentials.create()

    def create(
        self,
        options_json: str,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        user_verified: bool = True,
    ) -> str:
        """The new credential's toJSON() for creation options (WebAuthn Level 3 JSON)."""
        options = json.loads(options_json)
        if ES256 not in [param["alg"] for param in options["pubKeyCredParams"]]:
            raise NotAllowed("no supported algorithm")
        excluded = {unb64url(each["id"]) for each in options.get("excludeCredentials", [])}
        if any(each.credential_id in excluded for each in self.credentials):
            raise NotAllowed("this authenticator already holds a credential of the account")
        relying_party = options["rp"].get("id") or rp_id or ""
        credential = Credential(
            credential_id=secrets.token_bytes(16),
            key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=relying_party,
            user_handle=unb64url(options["user"]["id"]),
            user_name=options["user"]["name"],
        )
        numbers = credential.key.public_key().public_numbers()
        cose_key = cbor2.dumps(
            {1: 2, 3: ES256, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )
        attested = bytes(16) + struct.pack(">H", len(credential.credential_id)) + credential.credential_id
        auth_data = self._auth_data(rp_id or relying_party, user_verified, AT, 0) + attested + cose_key
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.credentials.append(credential)
        return json.dumps(
            {
                "id": b64url(credential.credential_id),
                "rawId": b64url(credential.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": ["hybrid", "internal"],
                },
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {"credProps": {"rk": True}},
            }
        )

    # ------------------------------------------------------------ navigator.credentials.get()

    def get(
        self,
        options_json: str,
        *,
        credential: Credential | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        user_verified: bool = True,
        user_present: bool = True,
        sign_count: int | None = None,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
        user_handle: bytes | None = None,
    ) -> str:
        """The assertion's toJSON() for request options: a credential from allowCredentials
        when it lists any, else a discoverable one of the RP id (the first, or `credential`)."""
        options = json.loads(options_json)
        chosen = credential or self.choose(options)
        if self.counting and sign_count is None:
            chosen.sign_count += 1
        count = chosen.sign_count if sign_count is None else sign_count
        auth_data = self._auth_data(rp_id or options["rpId"], user_verified, 0, count, present=user_present)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = (signing_key or chosen.key).sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": b64url(chosen.credential_id),
                "rawId": b64url(chosen.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(user_handle if user_handle is not None else chosen.user_handle),
                },
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
            }
        )

    def choose(self, options: dict[str, Any]) -> Credential:
        allowed = [unb64url(each["id"]) for each in options.get("allowCredentials", [])]
        for each in self.credentials:
            if each.rp_id == options["rpId"] and (not allowed or each.credential_id in allowed):
                return each
        raise NotAllowed("no credential of this authenticator fits")

    # ------------------------------------------------------------ the bytes

    def _auth_data(
        self, rp_id: str, user_verified: bool, extra_flags: int, count: int, *, present: bool = True
    ) -> bytes:
        flags = extra_flags | (UP if present else 0) | (UV if user_verified else 0)
        if self.synced:
            flags |= BE | BS
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", count)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False},
            separators=(",", ":"),
        ).encode()
