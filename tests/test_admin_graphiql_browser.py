"""The admin API's GraphiQL in a real browser (Debian's chromium, Playwright) with the network
cut off: the page and its files come whole from authql, the admin key goes in the Headers
pane, and the key is not kept in the page's storage."""

from __future__ import annotations

import json

import httpx
import pytest
from admin import ADMIN_KEY
from browser import chromium, local_only
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import register
from playwright.async_api import ConsoleMessage
from served import served
from test_graphiql_browser import set_editor

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]


async def test_admin_graphiql_works_offline_with_the_key_in_the_headers_pane(backend_urls, mailbox, tmp_path):
    settings = settings_with(backend_urls, mailbox, admin_api_key=ADMIN_KEY)
    async with chromium() as browser, served(settings, tmp_path / "server.log") as url:
        async with httpx.AsyncClient(base_url=url) as client:
            email = (await register(client, mailbox))["user"]["email"]

        problems: list[str] = []
        page = await browser.new_page()
        blocked = await local_only(page)

        def note(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                problems.append(message.text)

        page.on("console", note)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        try:
            await page.goto(f"{url}/admin/graphql", wait_until="load")
            await page.get_by_role("button", name="Show Documentation Explorer").click()
            await page.locator(".graphiql-doc-explorer").get_by_text("Query", exact=True).first.wait_for()
            query = f'{{ user(email: "{email}") {{ email status }} }}'
            await set_editor(page, ".graphiql-query-editor .CodeMirror", query)
            await page.get_by_role("button", name="Headers", exact=True).click()
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            await set_editor(page, ".graphiql-editor-tool .CodeMirror:visible", json.dumps(headers))
            await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
            result = page.locator(".graphiql-response")
            await result.get_by_text(email).wait_for()
            await result.get_by_text("ACTIVE").wait_for()
            # Run again (the history now holds the query), then reload: the key is nowhere kept.
            await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
            await page.reload(wait_until="load")
            await page.locator(".graphiql-query-editor .CodeMirror").first.wait_for()
            kept = await page.evaluate("() => JSON.stringify(Object.entries(localStorage))")
            assert ADMIN_KEY not in kept
            assert "authql-admin:" in kept
            assert blocked == [], f"the page asked for non-local URLs: {blocked}"
            assert problems == []
        except BaseException:
            await page.screenshot(path=tmp_path / "admin-graphiql.png", full_page=True)
            raise
