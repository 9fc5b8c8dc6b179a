"""Talking to a provider: its authorization URL, the code exchange (Authlib's async httpx
client: PKCE S256 and client_secret_basic) and who the person is.

For OpenID Connect the answer is the ID token, validated here with joserfc (Authlib's
JOSE): the signature by a key of the issuer's JWKS (an unknown `kid` fetches the set
again, once per sign-in, so a provider's key rotation is followed; the ID token comes
from the provider's own token endpoint, so nobody else can send us kids to chase, and
sign-ins racing after a rotation share one fetch), only asymmetric algorithms, `iss`
exactly the issuer, `aud` holding our client id, `azp` ours where present (required with
several audiences), `exp`/`iat` with a minute of leeway, and `nonce` exactly the flow's.
The discovery document is kept DISCOVERY_TTL_SECONDS.

An address counts as verified only as each provider documents it: `email_verified`
exactly boolean true (the string "false" is not true, nor is the string "true", except
from Apple, whose documentation says it may send the string); Microsoft's `email` only
with `xms_edov` true; GitHub's only the primary address GET /user/emails says is verified.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from security import clock
from security.social.config import AppleKey, Kind, Provider

DISCOVERY_TTL_SECONDS = 3600.0
LEEWAY_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 10.0
# Signature algorithms an ID token may use: never `none`, never an HMAC keyed by our secret.
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
APPLE_SECRET_SECONDS = 300
MAX_ANSWER_BYTES = 1_000_000
MICROSOFT_ISSUER = re.compile(r"https://login\.microsoftonline\.com/([0-9a-f-]{36}|\{tenantid\})/v2\.0")


class ProviderFailed(Exception):
    """The provider could not be reached, refused the code, or answered something that
    does not prove who the person is (a bad ID token). The message is for the log."""


@dataclass(frozen=True)
class ProviderIdentity:
    """Who the provider says signed in: the subject (stable per provider) and the address
    only if the provider verified it as documented; names when it gave them."""

    subject: str
    email: str | None
    email_verified: bool
    given_name: str | None = None
    family_name: str | None = None


@dataclass
class _Kept:
    value: dict[str, Any]
    at: float


class ProviderClients:
    """Discovery documents and key sets, kept per provider for the process's life."""

    def __init__(self) -> None:
        self._discovery: dict[str, _Kept] = {}
        self._jwks: dict[str, _Kept] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # ---------------------------------------------------------------- endpoints

    async def endpoints(self, provider: Provider) -> tuple[str, str]:
        """The authorization and token endpoints."""
        if provider.kind is Kind.GITHUB:
            return f"{provider.issuer}/login/oauth/authorize", f"{provider.issuer}/login/oauth/access_token"
        metadata = await self.discovery(provider)
        return metadata["authorization_endpoint"], metadata["token_endpoint"]

    async def discovery(self, provider: Provider) -> dict[str, Any]:
        kept = self._discovery.get(provider.id)
        if kept is not None and time.monotonic() - kept.at < DISCOVERY_TTL_SECONDS:
            return kept.value
        async with self._lock("discovery:" + provider.id):
            kept = self._discovery.get(provider.id)
            if kept is not None and time.monotonic() - kept.at < DISCOVERY_TTL_SECONDS:
                return kept.value
            document = await _get_json(f"{provider.issuer}/.well-known/openid-configuration")
            if not isinstance(document, dict):
                raise ProviderFailed("the discovery document is not an object")
            issuer = document.get("issuer")
            # OIDC Discovery 4.3: the document's issuer is exactly the one configured.
            # Microsoft's name their tenant by id (a tenant configured by its domain), or
            # a template for the multi-tenant endpoints, checked per token.
            if issuer != provider.issuer and not (provider.kind is Kind.MICROSOFT and _microsoft(issuer)):
                raise ProviderFailed(f"the discovery document names issuer {issuer!r}")
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(name), str):
                    raise ProviderFailed(f"the discovery document has no {name}")
            self._discovery[provider.id] = _Kept(document, time.monotonic())
            return document

    # ---------------------------------------------------------------- the flow

    async def authorization_url(self, provider: Provider, *, state: str, nonce: str, verifier: str) -> str:
        endpoint, _ = await self.endpoints(provider)
        extra: dict[str, str] = {}
        if provider.is_oidc:
            extra["nonce"] = nonce
        if provider.form_post:
            extra["response_mode"] = "form_post"
        client = AsyncOAuth2Client(
            client_id=provider.client_id,
            scope=" ".join(provider.scopes),
            redirect_uri=provider.callback_url,
            code_challenge_method="S256",
        )
        url, _ = client.create_authorization_url(endpoint, state=state, code_verifier=verifier, **extra)
        return str(url)

    async def identify(self, provider: Provider, *, code: str, verifier: str, nonce: str) -> ProviderIdentity:
        """Exchange `code` and say who signed in; ProviderFailed for anything unproven."""
        _, token_endpoint = await self.endpoints(provider)
        secret = provider.client_secret if provider.apple_key is None else apple_client_secret(provider)
        try:
            async with AsyncOAuth2Client(
                client_id=provider.client_id,
                client_secret=secret,
                token_endpoint_auth_method="client_secret_basic",
                redirect_uri=provider.callback_url,
                timeout=HTTP_TIMEOUT_SECONDS,
            ) as client:
                token = await client.fetch_token(
                    token_endpoint, grant_type="authorization_code", code=code, code_verifier=verifier
                )
        except (OAuthError, httpx2.HTTPError, ValueError) as error:
            raise ProviderFailed(f"the code exchange failed: {type(error).__name__}") from None
        if provider.kind is Kind.GITHUB:
            access_token = token.get("access_token")
            if not isinstance(access_token, str):
                raise ProviderFailed("the token answer has no access_token")
            return await github_identity(provider, access_token)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise ProviderFailed("the token answer has no id_token")
        claims = await self.validate_id_token(provider, id_token, nonce=nonce)
        return identity_from_claims(provider, claims)

    async def validate_id_token(self, provider: Provider, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The ID token's claims once every check passed (see the module docstring)."""
        metadata = await self.discovery(provider)
        supported = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [name for name in ASYMMETRIC if name in supported] or ["RS256"]
        keys = await self._key_set(metadata["jwks_uri"], refresh=False)
        try:
            try:
                token = jwt.decode(id_token, keys, algorithms=algorithms)
            except InvalidKeyIdError:
                keys = await self._key_set(metadata["jwks_uri"], refresh=True)  # rotated: once more
                token = jwt.decode(id_token, keys, algorithms=algorithms)
        except (JoseError, ValueError) as error:
            raise ProviderFailed(f"the ID token's signature: {type(error).__name__}") from None
        claims = token.claims
        issuer = _expected_issuer(provider, metadata, claims)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except (JoseError, ValueError) as error:
            raise ProviderFailed(f"the ID token's claims: {error}") from None
        audience = claims["aud"]
        azp = claims.get("azp")
        if isinstance(audience, list) and len(audience) > 1 and azp is None:
            raise ProviderFailed("the ID token has several audiences and no azp")
        if azp is not None and azp != provider.client_id:
            raise ProviderFailed("the ID token's azp is another client")
        if not isinstance(claims["iat"], int | float) or claims["iat"] > clock.now() + LEEWAY_SECONDS:
            raise ProviderFailed("the ID token was issued in the future")
        if not isinstance(claims["sub"], str) or not claims["sub"] or len(claims["sub"]) > 255:
            raise ProviderFailed("the ID token's sub is not a string")
        return claims

    async def _key_set(self, uri: str, *, refresh: bool) -> KeySet:
        kept = self._jwks.get(uri)
        if kept is None or refresh:
            async with self._lock("jwks:" + uri):
                again = self._jwks.get(uri)
                if again is kept:  # nobody fetched it meanwhile
                    document = await _get_json(uri)
                    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                        raise ProviderFailed("the JWKS is not a key set")
                    kept = _Kept(document, time.monotonic())
                    self._jwks[uri] = kept
                else:
                    kept = again
        assert kept is not None
        try:
            # Only signing keys: an encryption key must not verify a signature.
            usable = [
                key for key in kept.value["keys"] if isinstance(key, dict) and key.get("use", "sig") == "sig"
            ]
            return KeySet.import_key_set({"keys": usable})
        except (JoseError, ValueError, TypeError) as error:
            raise ProviderFailed(
                f"the JWKS holds a key that cannot be read: {type(error).__name__}"
            ) from None

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())


def _tenant_template(issuer: object) -> bool:
    return isinstance(issuer, str) and "{tenantid}" in issuer


def _microsoft(issuer: object) -> bool:
    """An issuer of Microsoft's identity platform (one tenant's, or the template)."""
    return isinstance(issuer, str) and bool(MICROSOFT_ISSUER.fullmatch(issuer))


def _expected_issuer(provider: Provider, metadata: dict[str, Any], claims: dict[str, Any]) -> str:
    """The issuer the token must name; for Microsoft's multi-tenant template, the one of
    the tenant the token says it is from (`tid`), as Microsoft documents it."""
    issuer = metadata["issuer"]
    if provider.kind is Kind.MICROSOFT and _tenant_template(issuer):
        tenant = claims.get("tid")
        if not isinstance(tenant, str) or not tenant.replace("-", "").isalnum():
            raise ProviderFailed("the Microsoft ID token has no tid")
        return issuer.replace("{tenantid}", tenant)
    return str(issuer)


def identity_from_claims(provider: Provider, claims: dict[str, Any]) -> ProviderIdentity:
    """Who the validated claims name, the address counted as verified only as documented."""
    email = claims.get("email")
    email = email if isinstance(email, str) and email else None
    if provider.kind is Kind.MICROSOFT:
        verified = claims.get("xms_edov") is True  # Microsoft's `email` is unverified otherwise
    elif provider.kind is Kind.APPLE:
        verified = claims.get("email_verified") is True or claims.get("email_verified") == "true"
    else:
        verified = claims.get("email_verified") is True
    return ProviderIdentity(
        subject=claims["sub"],
        email=email,
        email_verified=verified and email is not None,
        given_name=_name(claims.get("given_name")),
        family_name=_name(claims.get("family_name")),
    )


def _name(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


async def github_identity(provider: Provider, access_token: str) -> ProviderIdentity:
    """GitHub's user and its primary address, only if GitHub says it is verified."""
    headers = {
        "Authorization": f"Bearer {access_token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    user = await _get_json(f"{provider.api_url}/user", headers=headers)
    emails = await _get_json(f"{provider.api_url}/user/emails", headers=headers)
    if not isinstance(user, dict) or type(user.get("id")) is not int:
        raise ProviderFailed("GitHub's /user has no id")
    if not isinstance(emails, list):
        raise ProviderFailed("GitHub's /user/emails is not a list")
    primary = next(
        (
            entry
            for entry in emails
            if isinstance(entry, dict)
            and entry.get("primary") is True
            and isinstance(entry.get("email"), str)
        ),
        None,
    )
    verified = primary is not None and primary.get("verified") is True
    return ProviderIdentity(
        subject=str(user["id"]),  # the id, never the login: a login can be renamed and taken
        email=primary["email"] if primary is not None else None,
        email_verified=verified,
    )


async def _get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    try:
        async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False) as http:
            answer = await http.get(url, headers={"Accept": "application/json", **(headers or {})})
    except httpx2.HTTPError as error:
        raise ProviderFailed(f"{url}: {type(error).__name__}") from None
    if answer.status_code != 200 or len(answer.content) > MAX_ANSWER_BYTES:
        raise ProviderFailed(f"{url} answered {answer.status_code}")
    try:
        return answer.json()
    except ValueError:
        raise ProviderFailed(f"{url} answered no JSON") from None


def apple_client_secret(provider: Provider) -> str:
    """Apple's client secret: a short-lived ES256 JWT signed with the team's key."""
    key: AppleKey | None = provider.apple_key
    assert key is not None
    from joserfc.jwk import ECKey

    now = int(clock.now())
    claims = {
        "iss": key.team_id,
        "iat": now,
        "exp": now + APPLE_SECRET_SECONDS,
        "aud": "https://appleid.apple.com",
        "sub": provider.client_id,
    }
    return jwt.encode({"alg": "ES256", "kid": key.key_id}, claims, ECKey.import_key(key.private_key))
