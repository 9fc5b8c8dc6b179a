"""Asymmetric signing keys: EdDSA and ES256 key rings from JWT_KEYS_DIR, the `kid`
header, the public JWK Set, rotation, and the forgeries a published public key
invites (algorithm confusion, `alg: none`, unknown kid). Real keys, real app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from conftest import serve
from conftest import test_settings as settings_with
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flows import ME, data, gql, register

from security.keys import KeyRing, generate, jwk_members, load_key, thumbprint
from security.tokens import InvalidToken, Tokens
from settings import ConfigurationError

PROJECT = Path(__file__).resolve().parent.parent


# --- helpers --------------------------------------------------------------------------


def write_key(directory: Path, name: str, private_key: Any, age_seconds: float = 0) -> Path:
    """A PKCS8 PEM private key file whose mtime is `age_seconds` in the past."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def ring_settings(backend_urls: dict[str, str], mailbox: Any, algorithm: str, directory: Path) -> Any:
    return settings_with(backend_urls, mailbox, jwt_algorithm=algorithm, jwt_keys_dir=directory)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """`header.payload.`: the signing input plus a trailing dot, ready for a signature."""
    parts = (json.dumps(part, separators=(",", ":")).encode() for part in (header, claims))
    return ".".join(b64url(part) for part in parts) + "."


async def me_body(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    return await gql(client, ME, token=token)


def assert_unauthenticated(body: dict[str, Any], label: str = "") -> None:
    assert body.get("data") is None, (label, body)
    codes = [error.get("extensions", {}).get("code") for error in body.get("errors") or []]
    assert codes == ["UNAUTHENTICATED"], (label, body)


async def jwks(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    return response.json()


def verify_like_an_outsider(token: str, key_set: dict[str, Any]) -> dict[str, Any]:
    """What a resource server does: pick the JWK by the token's kid, verify with it."""
    header = jwt.get_unverified_header(token)
    jwk = jwt.PyJWKSet.from_dict(key_set)[header["kid"]]
    return jwt.decode(token, jwk.key, algorithms=[jwk.algorithm_name], audience="authql", issuer="authql")


# --- the key ring on its own ----------------------------------------------------------


def test_kid_is_the_rfc_7638_thumbprint(tmp_path):
    # RFC 8037 appendix A: an Ed25519 key and its JWK thumbprint.
    d = base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    path = write_key(tmp_path, "rfc8037.pem", Ed25519PrivateKey.from_private_bytes(d))
    key = load_key(path, "EdDSA")
    assert key.public_jwk["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert key.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key.public_jwk["x"] + "="))
    assert thumbprint(jwk_members(public)) == key.kid


def test_newest_file_signs_ties_broken_by_name(tmp_path):
    old = write_key(tmp_path, "z-old.pem", Ed25519PrivateKey.generate(), age_seconds=600)
    tied = write_key(tmp_path, "b.pem", Ed25519PrivateKey.generate(), age_seconds=10)
    newest = write_key(tmp_path, "c.pem", Ed25519PrivateKey.generate())
    os.utime(newest, ns=(tied.stat().st_atime_ns, tied.stat().st_mtime_ns))  # same mtime: "c" > "b"
    (tmp_path / "README.txt").write_text("not a key, not a *.pem: ignored")

    ring = KeyRing.load(tmp_path, "EdDSA")
    assert ring.signing.path == newest
    assert [key["kid"] for key in ring.jwks()["keys"]][-1] == load_key(old, "EdDSA").kid

    os.utime(old)  # touched: now the newest
    assert KeyRing.load(tmp_path, "EdDSA").signing.path == old


def test_tokens_refuse_forgeries_at_the_source(tmp_path):
    write_key(tmp_path, "k.pem", Ed25519PrivateKey.generate())
    tokens = Tokens(
        issuer="authql", audience="authql", ttl_seconds=60, key_ring=KeyRing.load(tmp_path, "EdDSA")
    )
    token = tokens.issue("subject", "session", 0)
    assert tokens.verify(token.token).session_id == "session"

    claims = jwt.decode(token.token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token.token)["kid"]
    public_pem = tokens_public_pem(tmp_path / "k.pem")
    accepted = [
        label for label, forged in forgeries(claims, kid, public_pem).items() if accepts(tokens, forged)
    ]
    assert accepted == []


def test_a_token_verified_before_is_refused_once_it_expires():
    # Verified tokens are kept (security/tokens.py); keeping must not outlive `exp`.
    tokens = Tokens(secret="s" * 32, issuer="i", audience="a", ttl_seconds=1)
    # Issued at the start of a second: `exp` is whole seconds, so a token issued late in
    # one (a full run once did) expired before the kept answer below was asked for.
    time.sleep(1 - time.time() % 1)
    issued = tokens.issue("u", "s", 0)
    assert tokens.verify(issued.token).subject == "u"
    assert tokens.verify(issued.token).subject == "u"  # the kept answer
    expires = jwt.decode(issued.token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(InvalidToken, match="ExpiredSignatureError"):
        tokens.verify(issued.token)


def accepts(tokens: Tokens, token: str) -> bool:
    try:
        tokens.verify(token)
    except InvalidToken:
        return False
    return True


def test_tokens_need_exactly_one_kind_of_key(tmp_path):
    write_key(tmp_path, "k.pem", Ed25519PrivateKey.generate())
    ring = KeyRing.load(tmp_path, "EdDSA")
    with pytest.raises(ValueError):
        Tokens(issuer="i", audience="a", ttl_seconds=60)
    with pytest.raises(ValueError):
        Tokens(issuer="i", audience="a", ttl_seconds=60, secret="s" * 32, key_ring=ring)
    hs256 = Tokens(secret="s" * 32, issuer="i", audience="a", ttl_seconds=60)
    assert hs256.verify(hs256.issue("u", "s", 0).token).subject == "u"
    assert hs256.jwks() is None


def tokens_public_pem(private_path: Path) -> bytes:
    private_key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def forgeries(claims: dict[str, Any], kid: str, public_pem: bytes) -> dict[str, str]:
    """Tokens with genuine claims that must all be refused by an EdDSA ring holding `kid`."""
    hs256 = compact({"alg": "HS256", "typ": "JWT", "kid": kid}, claims)
    raw_public = serialization.load_pem_public_key(public_pem).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    stranger = Ed25519PrivateKey.generate()
    stranger_kid = thumbprint(jwk_members(stranger.public_key()))
    return {
        # The classic confusion: HMAC keyed with the published public key (PEM, then raw bytes).
        "HS256 keyed with public PEM": hs256 + sign_hmac(public_pem, hs256),
        "HS256 keyed with raw public key": hs256 + sign_hmac(raw_public, hs256),
        "alg none": compact({"alg": "none", "typ": "JWT", "kid": kid}, claims),
        "alg none, no kid": compact({"alg": "none", "typ": "JWT"}, claims),
        "unknown kid": jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": stranger_kid}),
        "our kid, stranger's key": jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": kid}),
        "no kid": jwt.encode(claims, stranger, algorithm="EdDSA"),
        "kid not a string": compact({"alg": "EdDSA", "typ": "JWT", "kid": 7}, claims) + "AAAA",
    }


def sign_hmac(key: bytes, signing_input_with_dot: str) -> str:
    signing_input = signing_input_with_dot.rstrip(".").encode()
    return b64url(hmac.new(key, signing_input, hashlib.sha256).digest())


# --- through the app ------------------------------------------------------------------


async def test_eddsa_tokens_name_their_key_and_verify_from_the_jwks(backend_urls, mailbox, tmp_path):
    key_path = generate("EdDSA", tmp_path / "keys")
    kid = load_key(key_path, "EdDSA").kid

    async with serve(ring_settings(backend_urls, mailbox, "EdDSA", tmp_path / "keys")) as client:
        registered = await register(client, mailbox)
        token = registered["accessToken"]
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "EdDSA"
        assert header["kid"] == kid
        assert (await data(client, ME, token=token))["email"] == registered["user"]["email"]

        response = await client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        key_set = response.json()

    assert key_set["keys"] == [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": key_set["keys"][0]["x"],
            "kid": kid,
            "alg": "EdDSA",
            "use": "sig",
        }
    ]
    claims = verify_like_an_outsider(token, key_set)
    assert claims["sub"] == registered["user"]["id"]


async def test_es256_tokens_sign_verify_and_publish_p256_keys(backend_urls, mailbox, tmp_path):
    key_path = write_key(tmp_path, "es.pem", ec.generate_private_key(ec.SECP256R1()))
    kid = load_key(key_path, "ES256").kid

    async with serve(ring_settings(backend_urls, mailbox, "ES256", tmp_path)) as client:
        registered = await register(client, mailbox)
        token = registered["accessToken"]
        assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": kid, "typ": "JWT"}
        assert (await data(client, ME, token=token))["id"] == registered["user"]["id"]
        key_set = await jwks(client)

    [jwk] = key_set["keys"]
    assert jwk == {**jwk, "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig"}
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32
    assert len(base64.urlsafe_b64decode(jwk["y"] + "=")) == 32
    assert verify_like_an_outsider(token, key_set)["sub"] == registered["user"]["id"]


async def test_rotation_keeps_old_tokens_until_their_key_is_removed(backend_urls, mailbox, tmp_path):
    keys = tmp_path / "keys"
    old_path = write_key(keys, "old.pem", Ed25519PrivateKey.generate(), age_seconds=3600)
    old_kid = load_key(old_path, "EdDSA").kid
    settings = ring_settings(backend_urls, mailbox, "EdDSA", keys)

    async with serve(settings) as client:
        old = await register(client, mailbox)
    assert jwt.get_unverified_header(old["accessToken"])["kid"] == old_kid

    new_path = write_key(keys, "new.pem", Ed25519PrivateKey.generate())
    new_kid = load_key(new_path, "EdDSA").kid
    async with serve(settings) as client:
        new = await register(client, mailbox)
        assert jwt.get_unverified_header(new["accessToken"])["kid"] == new_kid
        key_set = await jwks(client)
        assert [key["kid"] for key in key_set["keys"]] == [new_kid, old_kid]
        assert (await data(client, ME, token=old["accessToken"]))["id"] == old["user"]["id"]
        assert (await data(client, ME, token=new["accessToken"]))["id"] == new["user"]["id"]
    assert verify_like_an_outsider(old["accessToken"], key_set)["sub"] == old["user"]["id"]

    old_path.unlink()
    async with serve(settings) as client:
        assert_unauthenticated(await me_body(client, old["accessToken"]), "old key removed")
        assert (await data(client, ME, token=new["accessToken"]))["id"] == new["user"]["id"]
        assert [key["kid"] for key in (await jwks(client))["keys"]] == [new_kid]


async def test_forged_tokens_are_unauthenticated(backend_urls, mailbox, tmp_path):
    key_path = write_key(tmp_path, "k.pem", Ed25519PrivateKey.generate())
    async with serve(ring_settings(backend_urls, mailbox, "EdDSA", tmp_path)) as client:
        registered = await register(client, mailbox)
        token = registered["accessToken"]
        claims = jwt.decode(token, options={"verify_signature": False})
        kid = jwt.get_unverified_header(token)["kid"]
        for label, forged in forgeries(claims, kid, tokens_public_pem(key_path)).items():
            assert_unauthenticated(await me_body(client, forged), label)
        assert (await data(client, ME, token=token))["id"] == registered["user"]["id"]


async def test_hs256_publishes_no_keys(client):
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_hs256_app_refuses_tokens_from_a_key_ring(client, mailbox, tmp_path):
    write_key(tmp_path, "k.pem", Ed25519PrivateKey.generate())
    registered = await register(client, mailbox)
    claims = jwt.decode(registered["accessToken"], options={"verify_signature": False})
    signing = KeyRing.load(tmp_path, "EdDSA").signing
    eddsa = jwt.encode(claims, signing.private_key, algorithm="EdDSA", headers={"kid": signing.kid})
    assert_unauthenticated(await me_body(client, eddsa))


def good_key(algorithm: str) -> Any:
    return Ed25519PrivateKey.generate() if algorithm == "EdDSA" else ec.generate_private_key(ec.SECP256R1())


def write_bad_file(path: Path, kind: str) -> None:
    if kind == "garbage":
        path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    elif kind == "public key":
        public = Ed25519PrivateKey.generate().public_key()
        path.write_bytes(
            public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    elif kind == "directory":  # unreadable as a file (chmod 0 would not stop root)
        path.mkdir()
    elif kind == "group-readable":
        write_key(path.parent, path.name, Ed25519PrivateKey.generate())
        path.chmod(0o640)
    else:
        private_key = {
            "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
            "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
            "ed25519": Ed25519PrivateKey.generate,
        }[kind]()
        write_key(path.parent, path.name, private_key)
    if kind in ("garbage", "public key"):
        path.chmod(0o600)  # refused for what it holds, not for its mode


@pytest.mark.parametrize(
    ("algorithm", "kind"),
    [
        ("EdDSA", "rsa"),
        ("EdDSA", "p256"),
        ("ES256", "ed25519"),
        ("ES256", "p384"),
        ("EdDSA", "garbage"),
        ("EdDSA", "public key"),
        ("ES256", "directory"),
        ("EdDSA", "group-readable"),
    ],
)
async def test_a_bad_key_file_stops_start_up_naming_it(backend_urls, mailbox, tmp_path, algorithm, kind):
    # A good key beside the bad one: one bad file is enough to refuse to start.
    write_key(tmp_path, "good.pem", good_key(algorithm))
    bad = tmp_path / f"{kind.replace(' ', '-')}.pem"
    write_bad_file(bad, kind)

    with pytest.raises(ConfigurationError, match=re.escape(str(bad))):
        async with serve(ring_settings(backend_urls, mailbox, algorithm, tmp_path)):
            pass


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620], ids=oct)
async def test_a_key_file_others_may_read_or_write_stops_start_up(backend_urls, mailbox, tmp_path, mode):
    path = write_key(tmp_path, "key.pem", Ed25519PrivateKey.generate())
    path.chmod(mode)
    with pytest.raises(ConfigurationError, match=f"group or others \\(mode 0{mode:o}\\).*chmod 600"):
        async with serve(ring_settings(backend_urls, mailbox, "EdDSA", tmp_path)):
            pass


async def test_an_empty_keys_dir_stops_start_up(backend_urls, mailbox, tmp_path):
    with pytest.raises(ConfigurationError, match="no \\*.pem key"):
        async with serve(ring_settings(backend_urls, mailbox, "EdDSA", tmp_path)):
            pass


@pytest.mark.subprocess
@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
def test_generate_command_writes_an_owner_only_key_the_ring_loads(tmp_path, algorithm):
    keys = tmp_path / "new" / "keys"
    result = subprocess.run(
        [sys.executable, "-m", "security.keys", "generate", algorithm, str(keys)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    )
    [path] = keys.glob("*.pem")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    ring = KeyRing.load(keys, algorithm)
    assert ring.signing.path == path
    assert ring.signing.kid in result.stdout

    second = generate(algorithm, keys)
    assert KeyRing.load(keys, algorithm).signing.path == second


@pytest.mark.subprocess
def test_generate_command_explains_its_usage(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "security.keys", "generate", "HS256", str(tmp_path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "usage: python -m security.keys generate EdDSA|ES256 DIR" in result.stderr
    assert list(tmp_path.iterdir()) == []
