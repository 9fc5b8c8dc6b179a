"""The GraphiQL page and its files, all from this folder: no CDN, so it works offline.

The page holds no inline script or style, so its Content-Security-Policy allows scripts,
styles and requests from our own origin only (fonts and icons GraphiQL embeds as data: URLs),
plus one inline style GraphiQL's dialogs add, allowed by its hash.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.responses import HTMLResponse

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

# GraphiQL's dialogs (settings, short keys) lock the page's scroll with react-remove-scroll-bar,
# which inserts a <style> element. Its text is fixed here (the page's body never scrolls, so
# the scrollbar gap it writes is always 0): allowed by hash, not with 'unsafe-inline'. A new
# GraphiQL that changes it shows up as a CSP violation in tests/test_graphiql_browser.py.
DIALOG_SCROLL_LOCK_STYLE = "'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        f"style-src 'self' {DIALOG_SCROLL_LOCK_STYLE}",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


@cache
def page_html() -> str:
    return (HERE / "page.html").read_text()


def graphiql_page() -> HTMLResponse:
    """GraphiQL keeps a pasted bearer token in the page's storage and prefills queries from the
    URL: nothing but our own files may run in it, and no other site may frame it."""
    return HTMLResponse(
        page_html(),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )
