"""A GitHub-shaped OAuth 2.0 server for the tests of the GitHub preset: the documented
endpoints and answers of GitHub's OAuth apps and REST API, on a real socket (uvicorn in a
thread), with users and addresses chosen per test.

    client = github_provider.register_client("http://testserver/oauth/callback/github")
    user = github_provider.add_user(emails=[email("a@example.com", primary=True, verified=True)])
    callback = await github_provider.sign_in(authorization_url, user.login)

Web flow (https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps):
  GET  /login/oauth/authorize      with `login` naming a known user who already authorized
                                   the app: straight back with code and state; otherwise a
                                   page whose form posts to the same path
  POST /login/oauth/authorize      form: the query's parameters, `login`, `authorize` (1/0)
  POST /login/oauth/access_token   client_secret_basic or client_id/client_secret in the form,
                                   code, redirect_uri, code_verifier (S256); JSON when Accept
                                   asks for it, else form-encoded; errors answer 200 with
                                   `error` as GitHub's do
REST API (https://docs.github.com/rest/users), also under /api/v3 (GitHub Enterprise Server):
  GET  /user          the signed-in user (id, login, name, email: the public address or null)
  GET  /user/emails   [{email, primary, verified, visibility}] with scope user:email or user
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import itertools
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

CODE_LIFETIME = 600  # GitHub: "Exchange this code for an access token... codes expire after 10 minutes"
DOCS = "https://docs.github.com/apps/managing-oauth-apps"
MISMATCH = "The redirect_uri MUST match the registered callback URL for this application."
_ids = itertools.count(7_000_000 + secrets.randbelow(1_000_000))


@dataclass
class Email:
    """One entry of GET /user/emails, as GitHub answers it."""

    email: str
    primary: bool = False
    verified: bool = False
    visibility: str | None = None  # "public", "private" or null

    def shape(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "primary": self.primary,
            "verified": self.verified,
            "visibility": self.visibility,
        }


def email(
    address: str, *, primary: bool = False, verified: bool = False, visibility: str | None = None
) -> Email:
    return Email(address, primary, verified, visibility)


@dataclass
class User:
    """A GitHub account. Change `emails` (or `name`, `login`) in a test to change what the
    API answers from then on; `id` never changes, as on GitHub."""

    id: int
    login: str
    name: str | None
    emails: list[Email] = field(default_factory=list)
    # The address shown on the profile (GET /user's `email`); null when none is public.
    public_email: str | None = None

    def shape(self) -> dict[str, Any]:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {
            "login": self.login,
            "id": self.id,
            "node_id": base64.b64encode(f"04:User{self.id}".encode()).decode(),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{self.id}?v=4",
            "gravatar_id": "",
            "url": f"https://api.github.com/users/{self.login}",
            "html_url": f"https://github.com/{self.login}",
            "type": "User",
            "site_admin": False,
            "name": self.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": self.public_email,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": now,
        }


@dataclass(frozen=True)
class Client:
    """An OAuth app: its client id and secret, and its registered callback URL."""

    id: str
    secret: str
    redirect_uri: str


@dataclass
class _Grant:
    client: Client
    user: User
    scope: str
    redirect_uri: str | None
    code_challenge: str | None
    expires: float


class GitHubProvider:
    """The server's state (clients, users, codes, tokens) and the test's handle on it."""

    def __init__(self) -> None:
        self.url = ""  # set once listening: http://127.0.0.1:<port>
        self.clients: dict[str, Client] = {}
        self.users: dict[str, User] = {}  # by login
        self.codes: dict[str, _Grant] = {}
        self.tokens: dict[str, _Grant] = {}
        # Every authorization request's query, in order: what the relying party sent.
        self.authorizations: list[dict[str, str]] = []
        self.app = Starlette(routes=self._routes())

    @property
    def api_url(self) -> str:
        """The REST API's base URL (api.github.com's place); also served at `url + "/api/v3"`."""
        return self.url

    # ---------------------------------------------------------------- what a test sets up

    def register_client(self, redirect_uri: str) -> Client:
        client = Client("Iv1." + secrets.token_hex(8), secrets.token_hex(20), redirect_uri)
        self.clients[client.id] = client
        return client

    def add_user(
        self,
        login: str | None = None,
        *,
        name: str | None = "Octo Cat",
        emails: Sequence[Email] = (),
        public_email: str | None = None,
    ) -> User:
        """A new account (unique id; a random login unless given) with these addresses."""
        user = User(next(_ids), login or "octo-" + secrets.token_hex(4), name, list(emails), public_email)
        self.users[user.login] = user
        return user

    async def sign_in(self, authorization_url: str, login: str, *, consent: bool = True) -> str:
        """The person signed in to GitHub as `login` authorizes (or with `consent=False`
        cancels) the app on the authorization page; the URL GitHub redirects to, NOT
        requested."""
        query = dict(parse_qsl(urlsplit(authorization_url).query))
        form = {**query, "login": login, "authorize": "1" if consent else "0"}
        async with httpx.AsyncClient(timeout=10, verify=False) as browser:  # loopback HTTP only
            answer = await browser.post(authorization_url.split("?")[0], data=form)
        if not answer.is_redirect:
            raise AssertionError(f"GitHub's authorization answered {answer.status_code}: {answer.text[:500]}")
        return answer.headers["location"]

    # ---------------------------------------------------------------- the endpoints

    def _routes(self) -> list[Route]:
        api = [Route("/user", self._user), Route("/user/emails", self._emails)]
        return [
            Route("/login/oauth/authorize", self._authorize, methods=["GET", "POST"]),
            Route("/login/oauth/access_token", self._access_token, methods=["POST"]),
            *api,
            *(Route("/api/v3" + route.path, route.endpoint) for route in api),
        ]

    async def _authorize(self, request: Request) -> Response:
        if request.method == "POST":
            params = await _form(request)
        else:
            params = dict(request.query_params)
        self.authorizations.append(params)
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return PlainTextResponse("404: this OAuth app does not exist", status_code=404)
        state = {"state": params["state"]} if "state" in params else {}
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is not None and redirect_uri != client.redirect_uri:
            return _back(
                client.redirect_uri,
                error="redirect_uri_mismatch",
                error_description=MISMATCH,
                error_uri=f"{DOCS}/troubleshooting-authorization-request-errors/#redirect-uri-mismatch",
                **state,
            )
        challenge = params.get("code_challenge")
        if challenge is not None and params.get("code_challenge_method", "plain") != "S256":
            return PlainTextResponse("code_challenge_method must be S256", status_code=400)
        user = self.users.get(params.get("login", ""))
        if request.method == "GET" and user is None:
            return HTMLResponse(_authorization_page(params))
        if request.method == "POST" and params.get("authorize") != "1":
            return _back(
                redirect_uri or client.redirect_uri,
                error="access_denied",
                error_description="The user has denied your application access.",
                error_uri=f"{DOCS}/troubleshooting-authorization-request-errors/#access-denied",
                **state,
            )
        if user is None:
            return HTMLResponse(
                _authorization_page(params, "Incorrect username or password."), status_code=422
            )
        code = secrets.token_hex(10)
        self.codes[code] = _Grant(
            client, user, params.get("scope", ""), redirect_uri, challenge, time.time() + CODE_LIFETIME
        )
        return _back(redirect_uri or client.redirect_uri, code=code, **state)

    async def _access_token(self, request: Request) -> Response:
        params = {**dict(request.query_params), **await _form(request)}
        client_id, client_secret = _basic(request) or (
            params.get("client_id", ""),
            params.get("client_secret", ""),
        )
        client = self.clients.get(client_id)

        def error(code: str, description: str, anchor: str) -> Response:
            return _token_answer(
                request,
                {
                    "error": code,
                    "error_description": description,
                    "error_uri": f"{DOCS}/troubleshooting-oauth-app-access-token-request-errors/#{anchor}",
                },
            )

        if client is None or not secrets.compare_digest(client.secret, client_secret):
            return error(
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
                "incorrect-client-credentials",
            )
        grant = self.codes.pop(params.get("code", ""), None)
        if grant is None or grant.client != client or grant.expires < time.time():
            return error(
                "bad_verification_code", "The code passed is incorrect or expired.", "bad-verification-code"
            )
        if "redirect_uri" in params and params["redirect_uri"] != (grant.redirect_uri or client.redirect_uri):
            return error(
                "redirect_uri_mismatch",
                MISMATCH,
                "redirect-uri-mismatch",
            )
        if (
            grant.code_challenge is not None
            and _s256(params.get("code_verifier", "")) != grant.code_challenge
        ):
            return error(
                "bad_verification_code", "The code passed is incorrect or expired.", "bad-verification-code"
            )
        token = "gho_" + secrets.token_urlsafe(27)[:36]
        self.tokens[token] = grant
        scope = ",".join(part for part in grant.scope.replace(",", " ").split() if part)
        return _token_answer(request, {"access_token": token, "token_type": "bearer", "scope": scope})

    async def _user(self, request: Request) -> Response:
        grant = self._grant(request)
        if isinstance(grant, Response):
            return grant
        return _api_answer(grant, grant.user.shape())

    async def _emails(self, request: Request) -> Response:
        grant = self._grant(request)
        if isinstance(grant, Response):
            return grant
        if not {"user", "user:email"} & set(grant.scope.replace(",", " ").split()):
            return _api_answer(grant, _api_error("Not Found", 404), status_code=404)
        return _api_answer(grant, [address.shape() for address in grant.user.emails])

    def _grant(self, request: Request) -> _Grant | Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not token:
            return JSONResponse(_api_error("Requires authentication", 401), status_code=401)
        grant = self.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
        if grant is None:
            return JSONResponse(_api_error("Bad credentials", 401), status_code=401)
        return grant

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[GitHubProvider]:
        """The server listening on 127.0.0.1 (a port the OS chose) until the end."""
        provider = cls()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        provider.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        server = uvicorn.Server(
            uvicorn.Config(provider.app, log_level="warning", lifespan="off", loop="asyncio")
        )
        thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[listener])), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the GitHub-shaped test server did not start")
            time.sleep(0.01)
        try:
            yield provider
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            listener.close()


def _back(redirect_uri: str, **params: str) -> Response:
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return RedirectResponse(redirect_uri + separator + urlencode(params), status_code=302)


async def _form(request: Request) -> dict[str, str]:
    """A form-encoded body (without python-multipart, which the project does not install)."""
    return dict(parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True))


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return None
    return client_id, secret


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _token_answer(request: Request, body: dict[str, str]) -> Response:
    """GitHub answers the token request form-encoded unless Accept asks for JSON; always 200."""
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(body)
    return Response(urlencode(body), media_type="application/x-www-form-urlencoded")


def _api_answer(grant: _Grant, body: Any, status_code: int = 200) -> Response:
    scopes = ", ".join(part for part in grant.scope.replace(",", " ").split() if part)
    headers = {
        "X-OAuth-Scopes": scopes,
        "X-Accepted-OAuth-Scopes": "user",
        "X-GitHub-Media-Type": "github.v3",
    }
    return JSONResponse(body, status_code=status_code, headers=headers)


def _api_error(message: str, status: int) -> dict[str, str]:
    return {"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status)}


def _authorization_page(params: dict[str, str], problem: str = "") -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(key)}" value="{html.escape(value)}">'
        for key, value in params.items()
        if key not in ("login", "authorize")
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Authorize application</title></head><body>"
        f"<h1>Authorize {html.escape(params.get('client_id', ''))}</h1><p>{html.escape(problem)}</p>"
        f'<form method="post" action="/login/oauth/authorize">{hidden}'
        '<label>Username <input name="login" autofocus></label>'
        '<button type="submit" name="authorize" value="1">Authorize</button>'
        '<button type="submit" name="authorize" value="0">Cancel</button></form></body></html>'
    )
