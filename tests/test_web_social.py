"""examples/web's "Continue with ..." buttons in a real browser (Debian's chromium under
Playwright): the page starts a social sign-in with its own PKCE verifier in sessionStorage,
the person signs in at the real OpenID Provider, authql's callback sends the browser back
to the page with a ticket, and the page completes the sign-in with its verifier."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from browser import chromium, local_only
from conftest import Mailbox
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from oidc_provider import OidcProvider
from playwright.async_api import expect
from served import served
from test_web_example import example_site

from embedded import free_port

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]


async def test_continue_with_a_provider_signs_in_through_the_page(
    backend_urls: dict[str, str], mailbox: Mailbox, oidc_provider: OidcProvider, tmp_path: Path
) -> None:
    address = f"web-{secrets.token_hex(6)}@example.com"
    sub = oidc_provider.set_account(
        "web-" + secrets.token_hex(6),
        email=address,
        email_verified=True,
        given_name="Katherine",
        family_name="Johnson",
    )
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    client = oidc_provider.register_client(f"{public_url}/oauth/callback/acme")
    with example_site() as (origin, api_url):
        settings = settings_with(
            backend_urls,
            mailbox,
            cors_origins=origin,
            public_url=public_url,
            social_providers="acme",
            social_redirect_uris=f"{origin}/index.html",
            social_acme_type="oidc",
            social_acme_issuer=oidc_provider.issuer,
            social_acme_client_id=client.id,
            social_acme_client_secret=client.secret,
            social_acme_display_name="Acme SSO",
        )
        async with served(settings, tmp_path / "server.log", port=port) as url, chromium() as browser:
            api_url[0] = url
            page = await browser.new_page()
            blocked = await local_only(page)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            try:
                await page.goto(f"{origin}/index.html")
                await page.get_by_role("button", name="Continue with Acme SSO").click()
                # At the provider: its login page, then its consent page.
                await page.get_by_label("Subject").fill(sub)
                await page.get_by_role("button", name="Sign in").click()
                await page.get_by_role("button", name="Allow").click()
                # Back on the page, signed in; the ticket is gone from the address bar.
                await expect(page.locator("#user-email")).to_have_text(address)
                await expect(page.locator("#user-name")).to_have_text("Katherine Johnson")
                assert page.url == f"{origin}/index.html"
                assert await page.evaluate("sessionStorage.getItem('authql.socialVerifier')") is None
                assert blocked == [] and errors == [], (blocked, errors)
            except BaseException:
                await page.screenshot(path=tmp_path / "web-social.png", full_page=True)
                raise
            finally:
                await page.context.close()
