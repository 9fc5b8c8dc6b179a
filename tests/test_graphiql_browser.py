"""GraphiQL in a real browser (Debian's chromium, driven by Playwright) with the network cut
off: every request not to 127.0.0.1 is aborted, so the page must come whole from authql.

`.ci/run` installs chromium (see tests/browser.py); without it this test fails, it does not skip.
"""

from __future__ import annotations

import json

import httpx
import pytest
from browser import chromium, local_only
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import register
from playwright.async_api import ConsoleMessage, Page
from served import served

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]


async def set_editor(page: Page, selector: str, text: str) -> None:
    """Replace a CodeMirror editor's text as typing would (its onChange fires)."""
    await page.locator(selector).first.wait_for()
    await page.eval_on_selector(selector, "(node, text) => node.CodeMirror.setValue(text)", text)


async def test_graphiql_works_offline_with_a_bearer_token_in_the_headers_pane(
    backend_urls, mailbox, tmp_path
):
    settings = settings_with(backend_urls, mailbox)
    async with chromium() as browser, served(settings, tmp_path / "server.log") as url:
        async with httpx.AsyncClient(base_url=url) as client:
            signed_up = await register(client, mailbox)

        problems: list[str] = []  # script errors, and anything the CSP refused
        page = await browser.new_page()
        blocked = await local_only(page)

        def note(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                problems.append(message.text)

        page.on("console", note)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        try:
            await page.goto(f"{url}/graphql", wait_until="load")
            # The schema is loaded once the docs explorer lists the root types.
            await page.get_by_role("button", name="Show Documentation Explorer").click()
            await page.locator(".graphiql-doc-explorer").get_by_text("Query", exact=True).first.wait_for()

            await set_editor(page, ".graphiql-query-editor .CodeMirror", "{ me { email } }")
            await page.get_by_role("button", name="Headers", exact=True).click()
            headers = {"Authorization": f"Bearer {signed_up['accessToken']}"}
            await set_editor(page, ".graphiql-editor-tool .CodeMirror:visible", json.dumps(headers))
            await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()

            result = page.locator(".graphiql-response")
            await result.get_by_text(signed_up["user"]["email"]).wait_for()
            # The explorer plugin is there too, and knows the schema.
            await page.get_by_role("button", name="Show GraphiQL Explorer").click()
            await page.locator(".graphiql-explorer-root").get_by_text("me", exact=True).first.wait_for()
            # A dialog adds GraphiQL's one inline style, which the CSP must allow by its hash.
            await page.get_by_role("button", name="Open settings dialog").click()
            await page.get_by_role("dialog").wait_for()
            assert blocked == [], f"the page asked for non-local URLs: {blocked}"
            assert problems == []
        except BaseException:
            await page.screenshot(path=tmp_path / "graphiql.png", full_page=True)
            raise
