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

import json
import os
import re
import secrets
import select
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin

import httpx
from npm import npm_ci

DIRECTORY = Path(__file__).resolve().parent / "oidc"
SCRIPT = DIRECTORY / "provider.mjs"
START_TIMEOUT = 30.0
# How the next ID token is signed: by the provider's published key (the default), by a key
# the JWKS never published, not at all (alg "none"), or with HS256 keyed by the client secret.
Signer = Literal["provider", "foreign", "none", "client_secret"]
FORM = re.compile(r'<form id="(\w+)" method="post" action="([^"]+)"')


class ProviderError(AssertionError):
    """The provider refused something the test asked of it (its answer is in the message)."""


@dataclass(frozen=True)
class Client:
    """A relying party registered at the provider (client_secret_basic by default)."""

    id: str
    secret: str
    redirect_uris: tuple[str, ...]


class OidcProvider:
    """The running provider: its issuer, and what a test can make it do."""

    def __init__(self, issuer: str, process: subprocess.Popen[bytes]) -> None:
        self.issuer = issuer
        self.process = process
        self.admin = httpx.Client(base_url=issuer, timeout=10)

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
    ) -> Client:
        """A new client (random id and secret unless given) allowed these exact redirect URIs."""
        uris = (redirect_uris,) if isinstance(redirect_uris, str) else tuple(redirect_uris)
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
            },
        )
        return client

    def set_account(self, sub: str, **claims: Any) -> str:
        """The claims `sub`'s next sign-ins carry, exactly as given (replacing earlier ones).

        A claim left out is missing from the ID token; values keep their JSON type, so
        `email_verified="false"` arrives as the string. Standard claims (`email`,
        `email_verified`, `given_name`, `family_name`, `name`, `picture`, `locale`...) go
        where the requested scopes allow (`email`, `profile`); any other claim (`tid`,
        `hd`, `groups`...) is added to every ID token of that subject."""
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
        own = http is None
        browser = http or httpx.AsyncClient(timeout=10)
        try:
            url = authorization_url
            for _ in range(12):
                if not url.startswith(self.issuer + "/"):
                    return url
                answer = await browser.get(url)
                while answer.status_code == 200:  # a page with forms: the person acts
                    answer = await self._act(browser, url, answer.text, sub, consent)
                if not answer.is_redirect:
                    raise ProviderError(f"{url} answered {answer.status_code}: {answer.text[:500]}")
                url = urljoin(url, answer.headers["location"])
            raise ProviderError(f"too many redirects, last {url}")
        finally:
            if own:
                await browser.aclose()

    async def _act(
        self, browser: httpx.AsyncClient, url: str, page: str, sub: str, consent: bool
    ) -> httpx.Response:
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
