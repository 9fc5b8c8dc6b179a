"""Debian's chromium under Playwright for the browser tests, with the network cut off.

`.ci/run` installs chromium (`apt-get install -y chromium`); without it a browser test
fails, it does not skip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, Route, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Headless as root in a container, and none of Chromium's own calls home.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's chromium under Playwright; a failure (not a skip) when it is not installed."""
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
        "(`apt-get update && apt-get install -y chromium`; .ci/run installs it)"
    )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


async def local_only(page: Page, hosts: tuple[str, ...] = ("127.0.0.1",)) -> list[str]:
    """Abort every request of `page` not to 127.0.0.1 (or `hosts`); the list the aborted URLs go to."""
    blocked: list[str] = []

    async def route(route: Route) -> None:
        if urlsplit(route.request.url).hostname in hosts:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", route)
    return blocked
