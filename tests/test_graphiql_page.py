"""The GraphiQL page over HTTP: every file it loads is ours and shipped in the repository,
and its Content-Security-Policy allows nothing else. (It working in a browser with the
network cut off: tests/test_graphiql_browser.py.)"""

from __future__ import annotations

import json
import re

from conftest import serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from served import ROOT

from graphiql.refresh import licence_name

HTML = {"Accept": "text/html"}


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


async def test_the_graphiql_page_loads_only_files_authql_serves(client):
    page = await client.get("/graphql", headers=HTML)
    assert page.status_code == 200, page.text
    assert not re.search(r"https?:|//", page.text), "a URL off this server in the page"
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {
        "graphiql/graphiql.min.js",
        "graphiql/plugin-explorer.umd.js",
        "graphiql/react.production.min.js",
    } <= set(assets)
    for asset in assets:
        if asset.startswith("data:"):
            continue
        response = await client.get(f"/{asset}")
        assert response.status_code == 200, asset
        assert response.headers["content-type"].startswith(("text/javascript", "text/css")), response.headers
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_graphiql_page_allows_only_its_own_origin(client):
    page = await client.get("/graphql", headers=HTML)
    policy = directives(page.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["style-src"][0] == "'self'" and all(
        value.startswith("'sha256-") for value in policy["style-src"][1:]
    )
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text and "<style" not in page.text


async def test_graphiql_files_are_a_404_when_graphiql_is_off(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, graphiql=False)) as client:
        response = await client.get("/graphiql/graphiql.min.js")
        assert response.status_code == 404
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_only_files_of_the_graphiql_folder_are_served(client):
    for path in ["/graphiql/../server.py", "/graphiql/%2e%2e/server.py", "/graphiql/..%2fserver.py"]:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "create_app" not in response.text


def test_every_vendored_package_is_pinned_shipped_and_licensed():
    manifest = json.loads((ROOT / "graphiql" / "assets.json").read_text())
    static = ROOT / "graphiql" / "static"
    for package, pin in manifest.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", pin["version"]), package
        assert pin["integrity"].startswith("sha512-"), package
        for name in pin["files"].values():
            assert (static / name).stat().st_size > 0, name
        licence = (static / "licences" / licence_name(package)).read_text()
        assert licence.startswith(f"{package}@{pin['version']}\n") and "MIT License" in licence
