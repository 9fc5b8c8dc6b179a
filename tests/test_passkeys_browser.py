"""Passkeys through examples/web in chromium with the DevTools virtual authenticator
(WebAuthn.addVirtualAuthenticator over a Playwright CDP session: CTAP2, internal,
resident keys, user verification, automatic presence): Chromium's own WebAuthn stack
makes the credential and the assertion, and authql verifies them.

The page is served on `localhost` (browsers refuse an IP address as RP id), so the API
runs with WEBAUTHN_RP_ID=localhost and the page's origin in WEBAUTHN_ORIGINS and
CORS_ORIGINS; the API itself stays on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from browser import chromium, local_only
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import data, register
from playwright.async_api import Browser, expect
from served import served
from test_web_example import example_site, log_in

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}
PASSKEYS = "query { me { passkeys { id name backedUp lastUsedAt } } }"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


async def test_a_passkey_is_added_on_the_profile_and_signs_in_without_an_email(
    browser, backend_urls, mailbox, tmp_path: Path
):
    with example_site() as (site, api_url):
        origin = site.replace("127.0.0.1", "localhost")
        settings = settings_with(
            backend_urls,
            mailbox,
            cors_origins=origin,
            webauthn_rp_id="localhost",
            webauthn_origins=origin,
        )
        async with served(settings, tmp_path / "server.log") as url:
            api_url[0] = url
            async with httpx.AsyncClient(base_url=url) as client:
                registered = await register(client, mailbox)
            email = registered["user"]["email"]
            page = await browser.new_page()
            blocked = await local_only(page, hosts=("127.0.0.1", "localhost"))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("WebAuthn.enable")
            added = await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
            authenticator_id = added["authenticatorId"]
            try:
                await page.goto(f"{origin}/index.html")
                await log_in(page, email)
                await expect(page.locator("#user-email")).to_have_text(email)

                await page.get_by_role("button", name="Add a passkey").click()
                await expect(page.get_by_role("status")).to_contain_text("Passkey added")
                listed_here = page.get_by_role("list", name="Passkeys").get_by_role("listitem")
                await expect(listed_here).to_have_count(1)
                found = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
                held = found["credentials"]
                assert len(held) == 1 and held[0]["isResidentCredential"] and held[0]["rpId"] == "localhost"

                await page.get_by_role("button", name="Log out").click()
                await expect(page.get_by_role("status")).to_have_text("You are logged out.")
                # Usernameless: nothing typed, the authenticator offers the passkey it holds.
                await page.get_by_role("button", name="Sign in with a passkey").click()
                await expect(page.get_by_role("status")).to_have_text(f"Signed in as {email}.")
                await expect(page.locator("#user-email")).to_have_text(email)
                refresh_token = await page.evaluate("sessionStorage.getItem('authql.refreshToken')")
                async with httpx.AsyncClient(base_url=url) as client:
                    renewed = await data(
                        client,
                        """mutation($t: String!) { refreshTokens(refreshToken: $t) {
                          ... on AuthPayload { accessToken } } }""",
                        {"t": refresh_token},
                    )
                    claims = jwt.decode(renewed["accessToken"], options={"verify_signature": False})
                    assert "mfa" in claims["amr"] and claims["amr"][0] in {"hwk", "swk"}
                    listed = (await data(client, PASSKEYS, token=renewed["accessToken"]))["passkeys"]
                assert len(listed) == 1 and listed[0]["lastUsedAt"] is not None
                assert blocked == [] and errors == [], (blocked, errors)
            except BaseException:
                await page.screenshot(path=tmp_path / "passkeys.png", full_page=True)
                raise
            finally:
                await page.context.close()
