"""The social providers an operator configured: SOCIAL_PROVIDERS names them in button
order, and SOCIAL_<ID>_* describe each (ID upper-cased, `-` as `_`). Read once at start-up:
a provider with a missing secret, an unknown type or an issuer that is not https (http
only on a loopback host) stops the start with a message naming the variable.

Presets know their provider's issuer and quirks:
- google: https://accounts.google.com; the only one trusted for email by default.
- microsoft: https://login.microsoftonline.com/<SOCIAL_<ID>_TENANT, default common>/v2.0,
  whose ID tokens' issuer names the person's tenant (`tid`). Its `email` claim is not
  verified by Microsoft: an address counts as verified only with `xms_edov` true
  (the tenant owns the address's domain), else it is treated as unverified.
- apple: https://appleid.apple.com, `form_post` (the callback accepts POST), and a client
  secret that is a JWT signed with the key file Apple gave (SOCIAL_<ID>_TEAM_ID, _KEY_ID,
  _PRIVATE_KEY_FILE) instead of SOCIAL_<ID>_CLIENT_SECRET.
- github: plain OAuth 2.0 (no ID token): the user from /user, addresses from /user/emails,
  only the primary one and only when GitHub says it is verified. SOCIAL_<ID>_ISSUER is
  the web address (https://github.com, or a GitHub Enterprise Server), SOCIAL_<ID>_API_URL
  its REST API (api.github.com; <issuer>/api/v3 for a server).
- oidc: any OpenID Connect issuer (SOCIAL_<ID>_ISSUER), found by discovery.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from settings import ConfigurationError, Settings

PROVIDER_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MAX_PROVIDERS = 16


class Kind(StrEnum):
    OIDC = "oidc"
    GOOGLE = "google"
    MICROSOFT = "microsoft"
    APPLE = "apple"
    GITHUB = "github"


@dataclass(frozen=True)
class AppleKey:
    """What signs Apple's client secret: the team, the key's id and the key (PEM)."""

    team_id: str
    key_id: str
    private_key: str


@dataclass(frozen=True)
class Provider:
    """One configured provider."""

    id: str
    kind: Kind
    display_name: str
    client_id: str
    # None for Apple (its secret is a JWT made from `apple_key`).
    client_secret: str | None
    # The OIDC issuer (discovery at <issuer>/.well-known/openid-configuration); for
    # GitHub its web address.
    issuer: str
    scopes: tuple[str, ...]
    trust_email: bool
    # authql's callback for this provider: PUBLIC_URL/oauth/callback/<id>.
    callback_url: str
    api_url: str | None = None
    apple_key: AppleKey | None = None

    @property
    def is_oidc(self) -> bool:
        return self.kind is not Kind.GITHUB

    @property
    def form_post(self) -> bool:
        """Apple answers with a POST to the callback (response_mode=form_post)."""
        return self.kind is Kind.APPLE


@dataclass(frozen=True)
class SocialConfig:
    """Every provider, in button order, and the redirect URIs apps may come back to."""

    providers: tuple[Provider, ...]
    redirect_uris: frozenset[str]

    def find(self, provider_id: str) -> Provider | None:
        return next((provider for provider in self.providers if provider.id == provider_id), None)


DEFAULT_ISSUERS = {
    Kind.GOOGLE: "https://accounts.google.com",
    Kind.APPLE: "https://appleid.apple.com",
    Kind.GITHUB: "https://github.com",
}
DEFAULT_SCOPES = {
    Kind.OIDC: ("openid", "email", "profile"),
    Kind.GOOGLE: ("openid", "email", "profile"),
    Kind.MICROSOFT: ("openid", "email", "profile"),
    Kind.APPLE: ("openid", "name", "email"),
    Kind.GITHUB: ("read:user", "user:email"),
}
DISPLAY_NAMES = {
    Kind.GOOGLE: "Google",
    Kind.MICROSOFT: "Microsoft",
    Kind.APPLE: "Apple",
    Kind.GITHUB: "GitHub",
}
TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}


def social_config(settings: Settings) -> SocialConfig:
    """The providers and redirect URIs, checked; ConfigurationError names the variable."""
    ids = [item.strip() for item in settings.social_providers.split(",") if item.strip()]
    if len(ids) > MAX_PROVIDERS:
        raise ConfigurationError(f"SOCIAL_PROVIDERS names more than {MAX_PROVIDERS} providers")
    if len(set(ids)) != len(ids):
        raise ConfigurationError("SOCIAL_PROVIDERS names a provider twice")
    base = settings.public_base_url  # PUBLIC_URL (checked by the settings) or http://HOST:PORT
    providers = tuple(_provider(settings, provider_id, base) for provider_id in ids)
    uris = frozenset(
        _redirect_uri(item.strip()) for item in settings.social_redirect_uris.split(",") if item.strip()
    )
    if providers and not uris:
        raise ConfigurationError("SOCIAL_REDIRECT_URIS is empty: name the exact URIs apps may come back to")
    return SocialConfig(providers, uris)


def _provider(settings: Settings, provider_id: str, base: str) -> Provider:
    if not PROVIDER_ID.fullmatch(provider_id):
        raise ConfigurationError(
            f"SOCIAL_PROVIDERS: {provider_id!r} is not an id (lower-case letters, digits and -, at most 32)"
        )
    prefix = "SOCIAL_" + provider_id.upper().replace("-", "_") + "_"

    def value(field: str) -> str | None:
        found = settings.social_variables.get((prefix + field).lower())
        return found.strip() if found is not None and found.strip() else None

    def required(field: str) -> str:
        found = value(field)
        if found is None:
            raise ConfigurationError(f"{prefix}{field} is required for provider {provider_id!r}")
        return found

    kind_name = value("TYPE") or provider_id  # `google` needs no SOCIAL_GOOGLE_TYPE
    try:
        kind = Kind(kind_name)
    except ValueError:
        raise ConfigurationError(
            f"{prefix}TYPE must be one of {', '.join(kind.value for kind in Kind)}, not {kind_name!r}"
        ) from None
    issuer = value("ISSUER")
    if kind is Kind.MICROSOFT and issuer is None:
        tenant = value("TENANT") or "common"
        if not re.fullmatch(r"[A-Za-z0-9.-]{1,64}", tenant):
            raise ConfigurationError(f"{prefix}TENANT is not a tenant id or domain")
        issuer = f"https://login.microsoftonline.com/{tenant}/v2.0"
    issuer = issuer or DEFAULT_ISSUERS.get(kind)
    if issuer is None:
        raise ConfigurationError(f"{prefix}ISSUER is required for an oidc provider")
    issuer = _secure_url(issuer.rstrip("/"), prefix + "ISSUER")
    api_url = None
    if kind is Kind.GITHUB:
        default_api = (
            "https://api.github.com" if issuer == DEFAULT_ISSUERS[Kind.GITHUB] else issuer + "/api/v3"
        )
        api_url = _secure_url((value("API_URL") or default_api).rstrip("/"), prefix + "API_URL")
    apple_key = None
    secret = value("CLIENT_SECRET")
    if kind is Kind.APPLE:
        apple_key = _apple_key(prefix, required("TEAM_ID"), required("KEY_ID"), required("PRIVATE_KEY_FILE"))
        secret = None
    elif secret is None:
        raise ConfigurationError(f"{prefix}CLIENT_SECRET is required for provider {provider_id!r}")
    scopes = tuple((value("SCOPES") or " ".join(DEFAULT_SCOPES[kind])).replace(",", " ").split())
    if kind is not Kind.GITHUB and "openid" not in scopes:
        raise ConfigurationError(f"{prefix}SCOPES must include openid")
    return Provider(
        id=provider_id,
        kind=kind,
        display_name=(value("DISPLAY_NAME") or DISPLAY_NAMES.get(kind) or provider_id)[:64],
        client_id=required("CLIENT_ID"),
        client_secret=secret,
        issuer=issuer,
        scopes=scopes,
        trust_email=_flag(value("TRUST_EMAIL"), prefix + "TRUST_EMAIL", default=kind is Kind.GOOGLE),
        callback_url=f"{base}/oauth/callback/{provider_id}",
        api_url=api_url,
        apple_key=apple_key,
    )


def _flag(text: str | None, name: str, *, default: bool) -> bool:
    if text is None:
        return default
    if text.lower() in TRUE_WORDS:
        return True
    if text.lower() in FALSE_WORDS:
        return False
    raise ConfigurationError(f"{name} must be true or false")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secure_url(url: str, name: str) -> str:
    """`url` if https, or http on a loopback host (a provider on this machine, in tests)."""
    parts = urlsplit(url)
    if not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(f"{name} must be an https URL with no query or fragment")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname)):
        return url
    raise ConfigurationError(f"{name} must be https (http only on a loopback host)")


def _redirect_uri(uri: str) -> str:
    """An app's redirect URI: https, http on a loopback host, or an app's private scheme
    (reverse domain, RFC 8252); never with a fragment."""
    parts = urlsplit(uri)
    private_scheme = "." in parts.scheme and parts.scheme not in ("http", "https")
    if parts.fragment or not parts.scheme:
        raise ConfigurationError(f"SOCIAL_REDIRECT_URIS: {uri!r} must be an absolute URI with no fragment")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return uri
    if private_scheme:
        return uri
    raise ConfigurationError(
        f"SOCIAL_REDIRECT_URIS: {uri!r} must be https, http on a loopback host or a reverse-domain scheme"
    )


def _apple_key(prefix: str, team_id: str, key_id: str, key_file: str) -> AppleKey:
    try:
        pem = Path(key_file).read_text()
    except OSError as error:
        raise ConfigurationError(f"{prefix}PRIVATE_KEY_FILE cannot be read: {error.strerror}") from None
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{prefix}PRIVATE_KEY_FILE is not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigurationError(f"{prefix}PRIVATE_KEY_FILE must be Apple's P-256 (ES256) key")
    return AppleKey(team_id=team_id, key_id=key_id, private_key=pem)
