"""A real OpenID Provider for the tests: panva's oidc-provider run by tests/oidc/provider.mjs
(its npm packages installed on demand from tests/oidc/package-lock.json).

One Node process per test worker (the session fixture `oidc_provider` in conftest.py); each
test registers its own client and its own subjects, so tests never see each other's state.

    client = oidc_provider.register_client("http://testserver/oauth/callback/acme")
    oidc_provider.set_account(sub, email="a@example.com", email_verified=True, given_name="Ada")
    oidc_provider.next_id_token(client, aud="someone-else")      # an attack, once
    callback = await oidc_provider.sign_in(authorization_url, sub)  # ...?code=...&state=...

`sign_in` plays the browser: it follows the provider's redirects, fills its login and consent
forms over plain HTTP and returns the URL the provider sends the browser back to (the
relying party's callback with `code` and `state`, or `error=access_denied`) without
requesting it.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import select
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey
from npm import npm_ci

DIRECTORY = Path(__file__).resolve().parent / "oidc"
SCRIPT = DIRECTORY / "provider.mjs"
START_TIMEOUT = 30.0
# How the next ID token is signed: by the provider's published key (the default), by a key
# the JWKS never published, not at all (alg "none"), or with HS256 keyed by the client secret.
Signer = Literal["provider", "foreign", "none", "client_secret"]
FORM = re.compile(r'<form id="(\w+)" method="post" action="([^"]+)"')
# oidc-provider's form_post page: one form, hidden fields, submitted by a script.
POSTED = re.compile(r'<title>Submitting Callback</title>.*?<form method="post" action="([^"]+)"', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


class ProviderError(AssertionError):
    """The provider refused something the test asked of it (its answer is in the message)."""


@dataclass(frozen=True)
class Client:
    """A relying party registered at the provider (client_secret_basic by default)."""

    id: str
    secret: str
    redirect_uris: tuple[str, ...]


@dataclass(frozen=True)
class AppleSigningKey:
    """An Apple-style client key: the EC P-256 private key of a .p8 file (PKCS#8 PEM), its
    Key ID and the Team ID. The client secret is a JWT signed with it (see `client_secret`)."""

    team_id: str
    key_id: str
    private_pem: bytes

    @classmethod
    def generate(cls) -> AppleSigningKey:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cls(secrets.token_hex(5).upper(), secrets.token_hex(5).upper(), pem)

    def public_jwk(self) -> dict[str, Any]:
        return ECKey.import_key(self.private_pem).as_dict(private=False)

    def client_secret(self, client_id: str, audience: str, lifetime: int = 600) -> str:
        """The JWT a client sends as its secret: iss team id, sub client id, aud `audience`."""
        now = int(time.time())
        claims = {"iss": self.team_id, "iat": now, "exp": now + lifetime, "aud": audience, "sub": client_id}
        return jwt.encode({"alg": "ES256", "kid": self.key_id}, claims, ECKey.import_key(self.private_pem))


class OidcProvider:
    """The running provider: its issuer, and what a test can make it do."""

    def __init__(self, issuer: str, process: subprocess.Popen[bytes]) -> None:
        self.issuer = issuer
        self.process = process
        self.admin = httpx.Client(base_url=issuer, timeout=10, verify=False)  # loopback HTTP only

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    @contextmanager
    def running(cls, log: Path) -> Iterator[OidcProvider]:
        """The provider started (npm ci first when its packages are missing or stale), its
        output in `log`; stopped at the end."""
        node = shutil.which("node")
        if node is None or shutil.which("npm") is None:
            raise RuntimeError("the OpenID Provider of the tests needs Node (20.19 or later) and npm on PATH")
        npm_ci(DIRECTORY)
        with log.open("wb") as output:
            process = subprocess.Popen(
                [node, str(SCRIPT)],
                cwd=DIRECTORY,
                env={**os.environ, "PORT": "0"},
                stdin=subprocess.PIPE,  # the provider exits when it closes: never an orphan
                stdout=subprocess.PIPE,
                stderr=output,
            )
        try:
            provider = cls(_issuer_announced(process, log), process)
        except BaseException:
            _stop(process)
            raise
        try:
            yield provider
        finally:
            provider.admin.close()
            _stop(process)

    # ---------------------------------------------------------------- what a test sets up

    def register_client(
        self,
        redirect_uris: str | Sequence[str],
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_endpoint_auth_method: str = "client_secret_basic",
        apple_key: AppleSigningKey | None = None,
    ) -> Client:
        """A new client (random id and secret unless given) allowed these exact redirect URIs.

        With `apple_key`, the client authenticates Apple's way: client_secret_post with a JWT
        signed by that key as the secret (iss its team id, sub the client id, aud
        "https://appleid.apple.com" or this issuer, ES256, kid its key id, not expired)."""
        uris = (redirect_uris,) if isinstance(redirect_uris, str) else tuple(redirect_uris)
        signer = None
        if apple_key is not None:
            token_endpoint_auth_method = "client_secret_post"
            signer = {"team_id": apple_key.team_id, "key_id": apple_key.key_id, "jwk": apple_key.public_jwk()}
        client = Client(
            client_id or "client-" + secrets.token_hex(6), client_secret or secrets.token_urlsafe(32), uris
        )
        self._post(
            "/__test/clients",
            {
                "client_id": client.id,
                "client_secret": client.secret,
                "redirect_uris": list(uris),
                "token_endpoint_auth_method": token_endpoint_auth_method,
                "secret_signer": signer,
            },
        )
        return client

    def set_account(self, sub: str, **claims: Any) -> str:
        """The claims `sub`'s next sign-ins carry, exactly as given (replacing earlier ones).

        A claim left out is missing from the ID token; values keep their JSON type, so
        `email_verified="false"` arrives as the string. Standard claims (`email`,
        `email_verified`, `given_name`, `family_name`, `name`, `picture`, `locale`...) go
        where the requested scopes allow (`email`, `profile`); any other claim (`tid`,
        `hd`, `groups`...) is put into every ID token of that subject as given, registered
        claims too: `set_account(sub, iss=..., tid=...)` gives all of that subject's tokens
        Microsoft's tenant issuer (for a one-off attack use `next_id_token`)."""
        self._post("/__test/accounts", {"sub": sub, "claims": claims})
        return sub

    def next_id_token(
        self,
        client: Client | str,
        *,
        key: Signer = "provider",
        kid: str | None = None,
        remove: Iterable[str] = (),
        **claims: Any,
    ) -> None:
        """Tamper with the next ID token the token endpoint gives `client` (once).

        `claims` replace or add claims (`aud="other"`, `nonce="x"`, `iss=...`,
        `exp=int(time.time()) - 3600`, `azp="other"`, `sub="someone-else"`); `remove` drops
        claims (`remove=["nonce"]`); `key` chooses the signature (see Signer) and `kid` the
        header's key id (by default the signing key's own: the provider's current kid, or an
        unpublished one for "foreign")."""
        self._post(
            "/__test/next-id-token",
            {
                "client_id": client.id if isinstance(client, Client) else client,
                "claims": claims,
                "remove": list(remove),
                "key": key,
                "kid": kid,
            },
        )

    def rotate_keys(self, *, keep_old: bool = True) -> str:
        """A new signing key signs from now on; its kid. The old keys stay published in the
        JWKS unless `keep_old` is false."""
        return self._post("/__test/rotate", {"keep_old": keep_old})["kid"]

    @contextmanager
    def discovery_overridden(self, **fields: Any) -> Iterator[None]:
        """The discovery document with these fields replaced while the block runs (say
        Microsoft's `issuer="https://login.microsoftonline.com/{tenantid}/v2.0"` shape:
        `issuer=oidc_provider.issuer + "/{tenantid}/v2.0"`, with the ID tokens' `iss` set
        to match through `set_account(sub, iss=..., tid=...)`)."""
        self._post("/__test/discovery", {"fields": fields})
        try:
            yield
        finally:
            self._post("/__test/discovery", {"fields": {}})

    def requests(self, path: str) -> int:
        """How many requests `path` received so far (say "/jwks", or
        "/.well-known/openid-configuration"): whether a relying party fetched or cached."""
        return int(self.admin.get("/__test/requests").json().get(path, 0))

    def jwks(self) -> dict[str, Any]:
        """The published key set (fetched the way a relying party does; counted)."""
        return self.admin.get(self.discovery()["jwks_uri"]).json()

    def discovery(self) -> dict[str, Any]:
        return self.admin.get("/.well-known/openid-configuration").json()

    # ---------------------------------------------------------------- the person at the browser

    async def sign_in(
        self,
        authorization_url: str,
        sub: str,
        *,
        consent: bool = True,
        http: httpx.AsyncClient | None = None,
    ) -> str:
        """Follow `authorization_url` as a browser would, sign in as `sub` and allow (or, with
        `consent=False`, deny) the client; the URL the provider then redirects to, which is
        NOT requested.

        Each call is a new browser (no provider session) unless `http` is given: a client
        that kept the provider's cookies from an earlier sign-in is a returning browser, which
        the provider may send straight back without asking anything (then `sub` is unused)."""
        url, form = await self._browse(authorization_url, sub, consent, http)
        if form is not None:
            raise ProviderError(f"the provider answered with a form posted to {url}: use sign_in_posted")
        return url

    async def sign_in_posted(
        self,
        authorization_url: str,
        sub: str,
        *,
        consent: bool = True,
        http: httpx.AsyncClient | None = None,
    ) -> tuple[str, dict[str, str]]:
        """As `sign_in` for `response_mode=form_post` (Apple's way): the URL the provider's
        page posts to and the form fields it posts (`code`, `state`, or `error`), NOT posted."""
        url, form = await self._browse(authorization_url, sub, consent, http)
        if form is None:
            raise ProviderError(f"the provider redirected to {url} instead of posting a form")
        return url, form

    async def _browse(
        self, authorization_url: str, sub: str, consent: bool, http: httpx.AsyncClient | None
    ) -> tuple[str, dict[str, str] | None]:
        """Where the provider finally sends the browser: a redirect's URL (form None), or a
        form_post page's action and fields."""
        browser = http or httpx.AsyncClient(timeout=10, verify=False)  # loopback HTTP only
        try:
            url = authorization_url
            for _ in range(12):
                if not url.startswith(self.issuer + "/"):
                    return url, None
                answer = await browser.get(url)
                while answer.status_code in (200, 400) and "text/html" in answer.headers.get(
                    "content-type", ""
                ):
                    posted = POSTED.search(answer.text)
                    if posted:
                        return html.unescape(posted[1]), {
                            name: html.unescape(value) for name, value in HIDDEN.findall(answer.text)
                        }
                    answer = await self._act(browser, url, answer.text, sub, consent)
                if not answer.is_redirect:
                    raise ProviderError(f"{url} answered {answer.status_code}: {answer.text[:500]}")
                url = urljoin(url, answer.headers["location"])
            raise ProviderError(f"too many redirects, last {url}")
        finally:
            if http is None:
                await browser.aclose()

    async def _act(
        self, browser: httpx.AsyncClient, url: str, page: str, sub: str, consent: bool
    ) -> httpx.Response:
        """The person at the login or consent page: submits the subject, allows or denies."""
        forms = dict(FORM.findall(page))
        if "login" in forms:
            action, data = forms["login"], {"sub": sub}
        elif "confirm" in forms:
            action, data = (forms["confirm"] if consent else forms["abort"]), {}
        else:
            raise ProviderError(f"{url} showed no form: {page[:500]}")
        answer = await browser.post(urljoin(url, action), data=data)
        if answer.status_code >= 400:
            raise ProviderError(f"{action} answered {answer.status_code}: {answer.text[:500]}")
        return answer

    # ---------------------------------------------------------------- plumbing

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.admin.post(path, json=body)
        if answer.status_code != 200:
            raise ProviderError(f"{path} answered {answer.status_code}: {answer.text}")
        return answer.json()


def _issuer_announced(process: subprocess.Popen[bytes], log: Path) -> str:
    """The issuer from the provider's one line on stdout, once it listens."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    line = process.stdout.readline() if ready else b""
    if not line:
        process.poll()
        raise RuntimeError(
            f"the OpenID Provider did not start (exit code {process.returncode}):\n"
            + log.read_text(errors="replace")
        )
    return json.loads(line)["issuer"]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        process.stdin.close()  # the provider's signal to exit
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
