"""The social sign-in test harness itself: the OpenID Provider (tests/oidc_provider.py) and
the GitHub-shaped server (tests/github_provider.py) do what the tests of authql rely on,
driven by Authlib, the library authql signs in with."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from github_provider import GitHubProvider, email
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError
from joserfc.jwk import KeySet
from oidc_provider import AppleSigningKey, OidcProvider

REDIRECT = "http://authql.test/oauth/callback/acme"


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


async def sign_in_with_authlib(
    provider: OidcProvider, sub: str, *, consent: bool = True, scope: str = "openid email profile"
) -> tuple[dict[str, Any], str]:
    """A code + PKCE flow as a relying party runs it: the token response and the nonce sent."""
    client = provider.register_client(REDIRECT)
    metadata = provider.discovery()
    verifier, nonce = generate_token(48), generate_token(20)
    async with AsyncOAuth2Client(
        client.id, client.secret, scope=scope, redirect_uri=REDIRECT, code_challenge_method="S256"
    ) as relying_party:
        url, state = relying_party.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        callback = await provider.sign_in(url, sub, consent=consent)
        assert callback.startswith(REDIRECT + "?") and query(callback)["state"] == state
        if not consent:
            return query(callback), nonce
        token = await relying_party.fetch_token(
            metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
        )
    return token, nonce


def id_token_claims(provider: OidcProvider, token: dict[str, Any]) -> dict[str, Any]:
    """The ID token's claims once its signature checks against the published keys."""
    return jwt.decode(token["id_token"], KeySet.import_key_set(provider.jwks()), algorithms=["RS256"]).claims


def header(token: str) -> dict[str, Any]:
    return jws.extract_compact(token.encode()).headers()


def new_sub() -> str:
    return "sub-" + secrets.token_hex(6)


# ---------------------------------------------------------------- the OpenID Provider


async def test_a_code_flow_with_pkce_gives_an_id_token_signed_by_a_published_key(oidc_provider):
    sub = oidc_provider.set_account(
        new_sub(), email="ada@example.com", email_verified=True, given_name="Ada", family_name="Lovelace"
    )
    token, nonce = await sign_in_with_authlib(oidc_provider, sub)
    claims = id_token_claims(oidc_provider, token)
    assert claims["iss"] == oidc_provider.issuer and claims["sub"] == sub and claims["nonce"] == nonce
    assert claims["exp"] > time.time() >= claims["iat"] - 5
    assert (claims["email"], claims["email_verified"]) == ("ada@example.com", True)
    assert (claims["given_name"], claims["family_name"]) == ("Ada", "Lovelace")


async def test_the_token_endpoint_refuses_a_wrong_verifier_and_a_reused_code(oidc_provider):
    sub = oidc_provider.set_account(new_sub(), email="x@example.com", email_verified=True)
    client = oidc_provider.register_client(REDIRECT)
    metadata = oidc_provider.discovery()
    async with AsyncOAuth2Client(
        client.id, client.secret, scope="openid", redirect_uri=REDIRECT, code_challenge_method="S256"
    ) as relying_party:
        url, _ = relying_party.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=generate_token(48), nonce="n"
        )
        callback = await oidc_provider.sign_in(url, sub)
        with pytest.raises(OAuthError, match="invalid_grant"):
            await relying_party.fetch_token(
                metadata["token_endpoint"], authorization_response=callback, code_verifier=generate_token(48)
            )


async def test_claims_arrive_as_given_per_subject(oidc_provider):
    """The string "false", a missing email_verified and extra claims reach the relying party untouched."""
    quoted = oidc_provider.set_account(
        new_sub(), email="q@example.com", email_verified="false", tid="tenant-1"
    )
    missing = oidc_provider.set_account(new_sub(), email="m@example.com")
    quoted_claims = id_token_claims(oidc_provider, (await sign_in_with_authlib(oidc_provider, quoted))[0])
    missing_claims = id_token_claims(oidc_provider, (await sign_in_with_authlib(oidc_provider, missing))[0])
    assert quoted_claims["email_verified"] == "false" and quoted_claims["tid"] == "tenant-1"
    assert missing_claims["email"] == "m@example.com" and "email_verified" not in missing_claims
    oidc_provider.set_account(missing, email="changed@example.com", email_verified=True)
    changed = id_token_claims(oidc_provider, (await sign_in_with_authlib(oidc_provider, missing))[0])
    assert (changed["sub"], changed["email"], changed["email_verified"]) == (
        missing,
        "changed@example.com",
        True,
    )


async def test_a_tampered_id_token_carries_the_attack_once(oidc_provider):
    sub = oidc_provider.set_account(new_sub(), email="t@example.com", email_verified=True)
    client = oidc_provider.register_client(REDIRECT)
    metadata = oidc_provider.discovery()
    expired = int(time.time()) - 3600

    async def id_token() -> str:
        async with AsyncOAuth2Client(
            client.id,
            client.secret,
            scope="openid email",
            redirect_uri=REDIRECT,
            code_challenge_method="S256",
        ) as relying_party:
            verifier = generate_token(48)
            url, _ = relying_party.create_authorization_url(
                metadata["authorization_endpoint"], code_verifier=verifier, nonce="the-nonce"
            )
            callback = await oidc_provider.sign_in(url, sub)
            token = await relying_party.fetch_token(
                metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
            )
        return token["id_token"]

    keys = KeySet.import_key_set(oidc_provider.jwks())
    oidc_provider.next_id_token(
        client, aud="someone-else", nonce="other", iss="http://evil.test", exp=expired
    )
    claims = jwt.decode(await id_token(), keys).claims
    assert (claims["aud"], claims["nonce"], claims["iss"], claims["exp"]) == (
        "someone-else",
        "other",
        "http://evil.test",
        expired,
    )
    assert jwt.decode(await id_token(), keys).claims["aud"] == client.id  # once only

    oidc_provider.next_id_token(client, key="foreign")  # its own kid, unknown to the JWKS
    forged = await id_token()
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(forged, keys, algorithms=["RS256"])

    oidc_provider.next_id_token(client, key="foreign", kid=keys.keys[0].kid, remove=["nonce"])
    forged = await id_token()
    assert header(forged)["kid"] == keys.keys[0].kid
    with pytest.raises(BadSignatureError):
        jwt.decode(forged, keys, algorithms=["RS256"])

    oidc_provider.next_id_token(client, key="none", azp="another-client")
    unsigned = await id_token()
    assert header(unsigned)["alg"] == "none"


async def test_rotating_keys_signs_with_a_new_kid_the_jwks_then_publishes(oidc_provider):
    sub = oidc_provider.set_account(new_sub(), email="r@example.com", email_verified=True)
    before = {key["kid"] for key in oidc_provider.jwks()["keys"]}
    fetches = oidc_provider.requests("/jwks")
    kid = oidc_provider.rotate_keys()
    token, _ = await sign_in_with_authlib(oidc_provider, sub)
    assert header(token["id_token"])["kid"] == kid not in before
    assert id_token_claims(oidc_provider, token)["sub"] == sub  # the JWKS fetched again has it
    assert oidc_provider.requests("/jwks") == fetches + 1


async def test_a_templated_issuer_in_discovery_and_a_subjects_own_iss(oidc_provider):
    """Microsoft's shape: the discovery document names `{tenantid}`, the ID token the tenant."""
    templated = oidc_provider.issuer + "/{tenantid}/v2.0"
    tenant_issuer = oidc_provider.issuer + "/tenant-7/v2.0"
    sub = oidc_provider.set_account(new_sub(), email="ms@example.com", tid="tenant-7", iss=tenant_issuer)
    with oidc_provider.discovery_overridden(issuer=templated):
        assert oidc_provider.discovery()["issuer"] == templated
        token, _ = await sign_in_with_authlib(oidc_provider, sub)
    claims = id_token_claims(oidc_provider, token)
    assert (claims["iss"], claims["tid"]) == (tenant_issuer, "tenant-7")
    assert oidc_provider.discovery()["issuer"] == oidc_provider.issuer


async def test_an_apple_style_client_secret_jwt_is_checked_against_the_clients_key(oidc_provider):
    sub = oidc_provider.set_account(new_sub(), email="apple@example.com", email_verified="true")
    key = AppleSigningKey.generate()
    client = oidc_provider.register_client(REDIRECT, apple_key=key)
    metadata = oidc_provider.discovery()

    async def exchange(secret: str) -> dict[str, Any]:
        verifier = generate_token(48)
        async with AsyncOAuth2Client(
            client.id,
            secret,
            scope="openid email",
            redirect_uri=REDIRECT,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post",
        ) as relying_party:
            url, _ = relying_party.create_authorization_url(
                metadata["authorization_endpoint"],
                code_verifier=verifier,
                nonce="n",
                response_mode="form_post",
            )
            _, fields = await oidc_provider.sign_in_posted(url, sub)
            return await relying_party.fetch_token(
                metadata["token_endpoint"], code=fields["code"], code_verifier=verifier
            )

    token = await exchange(key.client_secret(client.id, "https://appleid.apple.com"))
    assert id_token_claims(oidc_provider, token)["email_verified"] == "true"  # Apple's string
    for forged in (
        AppleSigningKey.generate().client_secret(client.id, "https://appleid.apple.com"),  # another key
        key.client_secret("another-client", "https://appleid.apple.com"),
        key.client_secret(client.id, "https://appleid.apple.com", lifetime=-60),  # expired
        client.secret,
    ):
        with pytest.raises(OAuthError, match="invalid_client"):
            await exchange(forged)


async def test_a_denied_consent_comes_back_as_access_denied(oidc_provider):
    sub = oidc_provider.set_account(new_sub(), email="d@example.com", email_verified=True)
    answer, _ = await sign_in_with_authlib(oidc_provider, sub, consent=False)
    assert answer["error"] == "access_denied" and "code" not in answer


async def test_a_form_post_sign_in_gives_the_fields_the_browser_would_post(oidc_provider):
    """response_mode=form_post (Apple's): the code and state come as a form, not in the URL."""
    sub = oidc_provider.set_account(new_sub(), email="f@example.com", email_verified=True)
    client = oidc_provider.register_client(REDIRECT)
    url = (
        oidc_provider.discovery()["authorization_endpoint"]
        + "?"
        + urlencode(
            {
                "client_id": client.id,
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "response_mode": "form_post",
                "scope": "openid",
                "state": "the-state",
                "nonce": "the-nonce",
                "code_challenge": create_s256_code_challenge("v" * 43),
                "code_challenge_method": "S256",
            }
        )
    )
    action, fields = await oidc_provider.sign_in_posted(url, sub)
    assert action == REDIRECT and fields["state"] == "the-state" and fields["code"]
    action, fields = await oidc_provider.sign_in_posted(url, sub, consent=False)
    assert (action, fields["error"], fields["state"]) == (REDIRECT, "access_denied", "the-state")


# ---------------------------------------------------------------- the GitHub-shaped server


async def test_the_github_flow_answers_user_and_emails_as_configured(github_provider: GitHubProvider):
    redirect = "http://authql.test/oauth/callback/github"
    client = github_provider.register_client(redirect)
    user = github_provider.add_user(
        name="Mona",
        emails=[
            email("old@example.com", primary=True, verified=False, visibility="private"),
            email("new@example.com", verified=True),
        ],
    )
    verifier = generate_token(48)
    async with AsyncOAuth2Client(
        client.id,
        client.secret,
        scope="read:user user:email",
        redirect_uri=redirect,
        code_challenge_method="S256",
    ) as relying_party:
        url, state = relying_party.create_authorization_url(
            github_provider.url + "/login/oauth/authorize", code_verifier=verifier
        )
        denied = query(await github_provider.sign_in(url, user.login, consent=False))
        assert (denied["error"], denied["state"]) == ("access_denied", state)
        callback = await github_provider.sign_in(url, user.login)
        assert callback.startswith(redirect + "?") and query(callback)["state"] == state
        assert github_provider.authorizations[-1]["code_challenge_method"] == "S256"
        token = await relying_party.fetch_token(
            github_provider.url + "/login/oauth/access_token",
            authorization_response=callback,
            code_verifier=verifier,
            headers={"Accept": "application/json"},
        )
        profile = (await relying_party.get(github_provider.api_url + "/user")).json()
        emails = (await relying_party.get(github_provider.api_url + "/user/emails")).json()
    assert (profile["id"], profile["login"], profile["name"], profile["email"]) == (
        user.id,
        user.login,
        "Mona",
        None,
    )
    assert emails == [
        {"email": "old@example.com", "primary": True, "verified": False, "visibility": "private"},
        {"email": "new@example.com", "primary": False, "verified": True, "visibility": None},
    ]
    assert token["token_type"] == "bearer" and token["access_token"].startswith("gho_")


async def test_the_github_token_endpoint_answers_errors_as_github_does(github_provider: GitHubProvider):
    redirect = "http://authql.test/oauth/callback/github"
    client = github_provider.register_client(redirect)
    user = github_provider.add_user(emails=[email("a@example.com", primary=True, verified=True)])
    verifier = generate_token(48)
    params = {"client_id": client.id, "state": "s", "scope": "read:user", "code_challenge_method": "S256"}
    url = f"{github_provider.url}/login/oauth/authorize?" + urlencode(
        {**params, "code_challenge": create_s256_code_challenge(verifier)}
    )
    json = {"Accept": "application/json"}
    async with httpx.AsyncClient(base_url=github_provider.url) as http:
        code = query(await github_provider.sign_in(url, user.login))["code"]
        bad_secret = await http.post(
            "/login/oauth/access_token", data={"client_id": client.id, "client_secret": "nope", "code": code}
        )
        assert parse_qs(bad_secret.text)["error"] == ["incorrect_client_credentials"]
        wrong = await http.post(
            "/login/oauth/access_token",
            data={"code": code, "code_verifier": generate_token(48)},
            auth=(client.id, client.secret),
            headers=json,
        )
        assert (wrong.status_code, wrong.json()["error"]) == (200, "bad_verification_code")
        code = query(await github_provider.sign_in(url, user.login))["code"]
        exchange = {"code": code, "code_verifier": verifier}
        right = await http.post("/login/oauth/access_token", data=exchange, auth=(client.id, client.secret))
        token = parse_qs(right.text)["access_token"][0]
        again = await http.post(
            "/login/oauth/access_token", data=exchange, auth=(client.id, client.secret), headers=json
        )
        assert again.json()["error"] == "bad_verification_code"  # a code works once
        no_scope = await http.get("/user/emails", headers={"Authorization": f"token {token}"})
        assert (no_scope.status_code, no_scope.json()["message"]) == (404, "Not Found")
        assert (await http.get("/user", headers={"Authorization": f"Bearer {token}"})).json()["id"] == user.id
        page = await http.get(url)  # a browser not signed in: the authorization page
        assert page.status_code == 200 and 'name="authorize" value="1"' in page.text
        straight = await http.get(
            url + "&" + urlencode({"login": user.login})
        )  # signed in, authorized before
        assert straight.status_code == 302 and query(straight.headers["location"])["code"]
        anonymous = await http.get("/user/emails")
        assert (anonymous.status_code, anonymous.json()["message"]) == (401, "Requires authentication")
