"""examples/web in a real browser (Debian's chromium under Playwright), served from its own
port, so calling authql is cross-origin and CORS_ORIGINS decides whether the browser may.

The page's config.js is replaced by one aimed at the test's server: the real one names
the README's default port. Every request not to 127.0.0.1 is aborted.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from browser import chromium, local_only
from conftest import Mailbox
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import LOGIN, PASSWORD, data, new_email, register
from playwright.async_api import Browser, Page, expect
from redis_client import redis_client
from served import served, served_settings

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "web"
REFRESH = """mutation($token: String!) { refreshTokens(refreshToken: $token) { __typename } }"""


class ExampleFiles(SimpleHTTPRequestHandler):
    """examples/web as `python -m http.server` serves it, but config.js points at `api_url`."""

    def __init__(self, *args: Any, api_url: list[str], **kwargs: Any) -> None:
        self.api_url = api_url
        super().__init__(*args, directory=str(EXAMPLE), **kwargs)

    def do_GET(self) -> None:
        if urlsplit(self.path).path != "/config.js":
            return super().do_GET()
        body = f'export const API_URL = "{self.api_url[0]}/graphql";\n'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def example_site() -> Iterator[tuple[str, list[str]]]:
    """The example on a port of its own: its origin, and a one-item list to put the API's
    URL in (the API's CORS_ORIGINS needs this origin before it starts)."""
    api_url = ["http://127.0.0.1:9"]
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(ExampleFiles, api_url=api_url))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", api_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One chromium for the module (each test opens its own context, so nothing is shared)."""
    async with chromium() as browser:
        yield browser


@asynccontextmanager
async def example_page(
    browser: Browser,
    backend_urls: dict[str, str],
    mailbox: Mailbox,
    tmp_path: Path,
    cors_origins: str | None = None,
    **settings: Any,
) -> AsyncIterator[tuple[Page, str]]:
    """The example opened in chromium, against a live authql whose CORS_ORIGINS is the
    example's origin (or `cors_origins`); the page and the API's URL. A failure leaves
    a screenshot in tmp_path."""
    with example_site() as (origin, api_url):
        allowed = origin if cors_origins is None else cors_origins
        config = settings_with(backend_urls, mailbox, cors_origins=allowed, **settings)
        async with served(config, tmp_path / "server.log") as url:
            api_url[0] = url
            page = await browser.new_page()
            blocked = await local_only(page)
            errors: list[str] = []  # script errors, and anything the page's CSP refused
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on(
                "console",
                lambda message: (
                    errors.append(message.text) if "Content Security Policy" in message.text else None
                ),
            )
            try:
                await page.clock.install()  # runs at the real pace until a test jumps ahead
                await page.goto(f"{origin}/index.html")
                yield page, url
                assert blocked == [], f"the page asked for non-local URLs: {blocked}"
                assert errors == [], errors
            except BaseException:
                await page.screenshot(path=tmp_path / "web-example.png", full_page=True)
                raise
            finally:
                await page.context.close()


async def sign_up(page: Page, mailbox: Mailbox, email: str) -> None:
    """The four steps, as a person does them."""
    await page.get_by_role("form", name="Sign up: email").get_by_label("Email").fill(email)
    await page.get_by_role("button", name="Send me a code").click()
    await page.get_by_label("Code from the mail").fill(await mailbox.code_for(email))
    await page.get_by_role("button", name="Verify code").click()
    await page.get_by_label("Choose a password").fill(PASSWORD)
    await page.get_by_role("button", name="Set password").click()
    profile = page.get_by_role("form", name="Sign up: profile")
    await profile.get_by_label("First name").fill("Ada")
    await profile.get_by_label("Last name").fill("Lovelace")
    await profile.get_by_label("Phone (optional)").fill("+44 20 7946 0018")
    await page.get_by_role("button", name="Create account").click()


async def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    form = page.get_by_role("form", name="Log in")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Log in").click()


async def test_the_example_signs_up_edits_the_profile_lists_sessions_logs_out_and_in(
    browser, backend_urls, mailbox, tmp_path
):
    email = new_email()
    async with example_page(browser, backend_urls, mailbox, tmp_path) as (page, url):
        await sign_up(page, mailbox, email)
        await expect(page.locator("#user-email")).to_have_text(email)
        await expect(page.locator("#user-name")).to_have_text("Ada Lovelace")

        edit = page.get_by_role("form", name="Edit profile")
        await edit.get_by_label("First name").fill("Augusta")
        await edit.get_by_role("button", name="Save profile").click()
        await expect(page.get_by_role("status")).to_have_text("Profile saved.")
        await expect(page.locator("#user-name")).to_have_text("Augusta Lovelace")
        # Saved on the server: a reload (access token gone, refresh token kept) shows it.
        await page.reload()
        await expect(page.locator("#user-name")).to_have_text("Augusta Lovelace")

        # A second session, elsewhere; the list shows both, and one is revoked from here.
        async with httpx.AsyncClient(base_url=url) as client:
            await data(client, LOGIN, {"email": email, "password": PASSWORD})
        await page.get_by_role("button", name="Show sessions").click()
        sessions = page.get_by_role("list", name="Sessions").get_by_role("listitem")
        await expect(sessions).to_have_count(2)
        await expect(sessions.filter(has_text="This browser")).to_have_count(1)
        await sessions.filter(has_not_text="This browser").get_by_role("button").click()
        await expect(page.get_by_role("status")).to_have_text("Session revoked.")
        await expect(sessions).to_have_count(1)

        refresh_token = await page.evaluate("sessionStorage.getItem('authql.refreshToken')")
        await page.get_by_role("button", name="Log out").click()
        await expect(page.get_by_role("status")).to_have_text("You are logged out.")
        assert await page.evaluate("sessionStorage.length") == 0
        async with httpx.AsyncClient(base_url=url) as client:
            refused = await data(client, REFRESH, {"token": refresh_token})
        assert refused["__typename"] == "InvalidRefreshToken"  # the logout reached the server

        await log_in(page, email)
        await expect(page.locator("#user-email")).to_have_text(email)
        await expect(page.locator("#user-name")).to_have_text("Augusta Lovelace")


@pytest.mark.parametrize("allowed", ["", "https://app.example"], ids=["no-origins", "another-origin"])
async def test_the_example_is_refused_by_the_browser_when_its_origin_is_not_allowed(
    browser, backend_urls, mailbox, tmp_path, allowed
):
    email = new_email()
    async with example_page(browser, backend_urls, mailbox, tmp_path, cors_origins=allowed) as (page, _):
        await page.get_by_role("form", name="Sign up: email").get_by_label("Email").fill(email)
        await page.get_by_role("button", name="Send me a code").click()
        await expect(page.get_by_role("status")).to_contain_text("Cannot reach the API")
        await expect(page.get_by_label("Code from the mail")).to_be_hidden()


async def stored_refresh_token(page: Page, other_than: str | None = None) -> str:
    """The refresh token the page keeps; with `other_than`, once it is another one."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        token = await page.evaluate("sessionStorage.getItem('authql.refreshToken')")
        if token != other_than:
            return token
        assert asyncio.get_running_loop().time() < deadline, "the page never refreshed its tokens"
        await asyncio.sleep(0.05)


async def test_the_example_refreshes_before_expiry_and_once_on_unauthenticated_then_asks_to_log_in(
    browser, backend_urls, mailbox, tmp_path
):
    async with example_page(browser, backend_urls, mailbox, tmp_path) as (page, url):
        async with httpx.AsyncClient(base_url=url) as client:
            user = (await register(client, mailbox))["user"]
        email, user_id = user["email"], user["id"]
        await log_in(page, email)
        await expect(page.locator("#user-email")).to_have_text(email)

        # Access tokens live ACCESS_TOKEN_TTL_SECONDS (900): the page refreshes a minute before.
        first = await stored_refresh_token(page)
        await page.clock.fast_forward("13:50")
        assert await stored_refresh_token(page) == first
        await page.clock.fast_forward("00:20")
        await stored_refresh_token(page, other_than=first)  # the new one serves the refresh below

        # Redis lost the sessions' keys: the access token is refused, one refresh restores it.
        redis = redis_client(served_settings(settings_with(backend_urls, mailbox)))
        try:
            sessions = [key async for key in redis.scan_iter(f"live-session:{{{user_id}}}:*")]
            assert await redis.delete(*sessions) == 2
        finally:
            await redis.aclose()
        await page.get_by_role("button", name="Show sessions").click()
        await expect(page.get_by_role("list", name="Sessions").get_by_role("listitem")).to_have_count(2)
        await expect(page.locator("#message")).to_be_empty()  # no error shown

        # Every session ended elsewhere: the refresh is refused too, so back to the login.
        async with httpx.AsyncClient(base_url=url) as client:
            other = await data(client, LOGIN, {"email": email, "password": PASSWORD})
            await data(
                client, "mutation { logout(scope: ALL) { revokedSessions } }", token=other["accessToken"]
            )
        await page.get_by_role("button", name="Show sessions").click()
        await expect(page.get_by_role("status")).to_have_text("Your session has ended: please log in again.")
        await expect(page.get_by_role("form", name="Log in")).to_be_visible()
        assert await page.evaluate("sessionStorage.length") == 0


async def test_the_example_shows_when_to_retry_a_rate_limited_login(browser, backend_urls, mailbox, tmp_path):
    async with example_page(browser, backend_urls, mailbox, tmp_path, rate_limit_login="1/minute") as (
        page,
        _,
    ):
        await log_in(page, new_email(), "not the password")
        await expect(page.get_by_role("status")).not_to_be_empty()
        await expect(page.get_by_role("status")).not_to_contain_text("Too many")
        await log_in(page, new_email(), "not the password")
        await expect(page.get_by_role("status")).to_have_text(
            # The moving window: the first attempt frees its place a minute after it was made.
            re.compile(r"Too many attempts: try again in (60|59|58|57|56|55) s\.")
        )
        await expect(page.get_by_role("button", name="Log in")).to_be_disabled()
