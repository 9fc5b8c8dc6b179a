"""The social providers' configuration: a misconfigured provider stops the start with a
message naming the variable; the presets know their issuers and their quirks (Microsoft's
unverified `email` and tenant issuer, Apple's string `email_verified` and client secret JWT,
GitHub's API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Mailbox, serve_app
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey

from security.social.config import Kind, Provider, social_config
from security.social.providers import (
    ProviderFailed,
    _expected_issuer,
    apple_client_secret,
    identity_from_claims,
)
from settings import ConfigurationError, Settings

BASE = {
    "public_url": "https://auth.example.com",
    "social_redirect_uris": "https://app.example/cb",
}


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **{**BASE, **values})  # type: ignore[arg-type]


def test_presets_know_their_issuers_and_defaults() -> None:
    config = social_config(
        settings(
            social_providers="google,work,github",
            social_google_client_id="g",
            social_google_client_secret="gs",
            social_work_type="microsoft",
            social_work_tenant="contoso.onmicrosoft.com",
            social_work_client_id="m",
            social_work_client_secret="ms",
            social_github_client_id="h",
            social_github_client_secret="hs",
        )
    )
    google, work, github = config.providers
    assert (google.issuer, google.trust_email, google.display_name) == (
        "https://accounts.google.com",
        True,
        "Google",
    )
    assert google.callback_url == "https://auth.example.com/oauth/callback/google"
    assert work.issuer == "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
    assert work.trust_email is False and work.display_name == "Microsoft"
    assert (github.kind, github.api_url, github.trust_email) == (Kind.GITHUB, "https://api.github.com", False)
    assert config.redirect_uris == frozenset({"https://app.example/cb"})


@pytest.mark.parametrize(
    ("values", "named"),
    [
        (
            {
                "social_acme_type": "oidc",
                "social_acme_issuer": "https://id.example",
                "social_acme_client_id": "a",
            },
            "SOCIAL_ACME_CLIENT_SECRET",
        ),
        (
            {"social_acme_type": "oidc", "social_acme_client_id": "a", "social_acme_client_secret": "s"},
            "SOCIAL_ACME_ISSUER",
        ),
        (
            {
                "social_acme_type": "oidc",
                "social_acme_issuer": "http://id.example",
                "social_acme_client_id": "a",
                "social_acme_client_secret": "s",
            },
            "SOCIAL_ACME_ISSUER",
        ),
        ({"social_acme_type": "facebook", "social_acme_client_id": "a"}, "SOCIAL_ACME_TYPE"),
        ({"social_acme_type": "google", "social_acme_client_secret": "s"}, "SOCIAL_ACME_CLIENT_ID"),
        (
            {
                "social_acme_type": "google",
                "social_acme_client_id": "a",
                "social_acme_client_secret": "s",
                "social_acme_trust_email": "maybe",
            },
            "SOCIAL_ACME_TRUST_EMAIL",
        ),
        (
            {
                "social_acme_type": "google",
                "social_acme_client_id": "a",
                "social_acme_client_secret": "s",
                "social_acme_scopes": "email profile",
            },
            "SOCIAL_ACME_SCOPES",
        ),
        (
            {
                "social_acme_type": "apple",
                "social_acme_client_id": "a",
                "social_acme_team_id": "T",
                "social_acme_key_id": "K",
                "social_acme_private_key_file": "/nonexistent/key.p8",
            },
            "SOCIAL_ACME_PRIVATE_KEY_FILE",
        ),
        (
            {
                "social_acme_type": "google",
                "social_acme_client_id": "a",
                "social_acme_client_secret": "s",
                "social_redirect_uris": "http://app.example/cb",
            },
            "SOCIAL_REDIRECT_URIS",
        ),
        (
            {
                "social_acme_type": "google",
                "social_acme_client_id": "a",
                "social_acme_client_secret": "s",
                "social_redirect_uris": "",
            },
            "SOCIAL_REDIRECT_URIS",
        ),
        (
            {
                "social_acme_type": "google",
                "social_acme_client_id": "a",
                "social_acme_client_secret": "s",
                "public_url": "ftp://auth.example",
            },
            "PUBLIC_URL",
        ),
    ],
)
def test_a_misconfigured_provider_is_named(values: dict[str, str], named: str) -> None:
    # ValueError: the settings' own check (PUBLIC_URL), as load_settings reports it.
    with pytest.raises((ConfigurationError, ValueError), match=named):
        social_config(settings(social_providers="acme", **values))


def test_an_id_that_is_no_id_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="SOCIAL_PROVIDERS"):
        social_config(settings(social_providers="Acme SSO"))


def test_variables_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIAL_PROVIDERS", "acme-sso")
    monkeypatch.setenv("SOCIAL_ACME_SSO_TYPE", "oidc")
    monkeypatch.setenv("SOCIAL_ACME_SSO_ISSUER", "http://127.0.0.1:9999")
    monkeypatch.setenv("SOCIAL_ACME_SSO_CLIENT_ID", "client")
    monkeypatch.setenv("SOCIAL_ACME_SSO_CLIENT_SECRET", "the-client-secret")
    monkeypatch.setenv("SOCIAL_ACME_SSO_DISPLAY_NAME", "Acme")
    (provider,) = social_config(settings()).providers
    assert (provider.id, provider.issuer, provider.client_secret, provider.display_name) == (
        "acme-sso",
        "http://127.0.0.1:9999",
        "the-client-secret",
        "Acme",
    )
    assert "the-client-secret" not in repr(settings())


async def test_a_misconfigured_provider_stops_the_start(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    broken = settings_with(
        backend_urls,
        mailbox,
        social_providers="acme",
        social_acme_type="oidc",
        social_acme_client_id="a",
        **BASE,
    )
    with pytest.raises(ConfigurationError, match="SOCIAL_ACME_ISSUER"):
        async with serve_app(broken):
            pass


def provider(kind: Kind) -> Provider:
    return Provider(
        id="p",
        kind=kind,
        display_name="P",
        client_id="client",
        client_secret="s",
        issuer="https://id.example",
        scopes=("openid",),
        trust_email=True,
        callback_url="https://auth.example.com/oauth/callback/p",
    )


@pytest.mark.parametrize(
    ("kind", "claims", "verified"),
    [
        (Kind.OIDC, {"email_verified": True}, True),
        (Kind.OIDC, {"email_verified": "true"}, False),
        (Kind.GOOGLE, {"email_verified": "false"}, False),
        # Microsoft's `email` is not verified by Microsoft: only with xms_edov true.
        (Kind.MICROSOFT, {"email_verified": True}, False),
        (Kind.MICROSOFT, {"xms_edov": True}, True),
        (Kind.MICROSOFT, {"xms_edov": "true"}, False),
        # Apple documents a string or a boolean.
        (Kind.APPLE, {"email_verified": "true"}, True),
        (Kind.APPLE, {"email_verified": "false"}, False),
        (Kind.APPLE, {"email_verified": True}, True),
    ],
)
def test_an_address_counts_as_verified_only_as_each_provider_documents(
    kind: Kind, claims: dict[str, Any], verified: bool
) -> None:
    identity = identity_from_claims(provider(kind), {"sub": "s", "email": "a@example.com", **claims})
    assert identity.email_verified is verified


def test_microsoft_tokens_must_name_their_tenants_issuer() -> None:
    metadata = {"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}
    tenant = "9188040d-6c67-4c5b-b112-36a304b66dad"
    assert _expected_issuer(provider(Kind.MICROSOFT), metadata, {"tid": tenant}) == (
        f"https://login.microsoftonline.com/{tenant}/v2.0"
    )
    with pytest.raises(ProviderFailed):
        _expected_issuer(provider(Kind.MICROSOFT), metadata, {})
    # Any other provider's template is taken literally (and so never matches a real iss).
    assert _expected_issuer(provider(Kind.OIDC), metadata, {"tid": tenant}) == metadata["issuer"]


def test_apples_client_secret_is_a_jwt_signed_with_the_key_file(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "AuthKey_K.p8"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (apple,) = social_config(
        settings(
            social_providers="apple",
            social_apple_client_id="com.example.web",
            social_apple_team_id="TEAM123",
            social_apple_key_id="KEY456",
            social_apple_private_key_file=str(key_file),
        )
    ).providers
    assert apple.form_post and apple.issuer == "https://appleid.apple.com" and apple.client_secret is None
    public = ECKey.import_key(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    token = jwt.decode(apple_client_secret(apple), public, algorithms=["ES256"])
    assert token.header["kid"] == "KEY456"
    assert {key: token.claims[key] for key in ("iss", "sub", "aud")} == {
        "iss": "TEAM123",
        "sub": "com.example.web",
        "aud": "https://appleid.apple.com",
    }
    assert 0 < token.claims["exp"] - token.claims["iat"] <= 300
