"""Refresh the vendored GraphiQL files from the npm registry: `python -m graphiql.refresh`.

`assets.json` pins each package's version (and, once fetched, its tarball's integrity); this
downloads each tarball from registry.npmjs.org, checks it against that integrity, and copies
the listed minified files and the package's licence into `static/`. Nothing else is kept.
To upgrade, change a version in `assets.json`, drop its `integrity`, run this, and review the diff.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.request import urlopen

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "assets.json"
STATIC = HERE / "static"
LICENCES = STATIC / "licences"
REGISTRY = "https://registry.npmjs.org"


def licence_name(package: str) -> str:
    """`@graphiql/plugin-explorer` -> `graphiql-plugin-explorer.LICENSE.txt`."""
    return package.lstrip("@").replace("/", "-") + ".LICENSE.txt"


def fetch(url: str) -> bytes:
    with urlopen(url, timeout=60) as response:  # noqa: S310 - a fixed https registry URL
        return response.read()


def tarball(package: str, pin: dict[str, Any]) -> tarfile.TarFile:
    """The package's published tarball, checked against the pinned (or registry) integrity."""
    metadata = json.loads(fetch(f"{REGISTRY}/{quote(package, safe='@')}/{pin['version']}"))
    integrity = metadata["dist"]["integrity"]
    if pin.setdefault("integrity", integrity) != integrity:
        sys.exit(f"{package}@{pin['version']}: the registry's integrity differs from the pinned one")
    body = fetch(metadata["dist"]["tarball"])
    algorithm, _, expected = integrity.partition("-")
    if base64.b64encode(hashlib.new(algorithm, body).digest()).decode() != expected:
        sys.exit(f"{package}@{pin['version']}: the tarball does not match its integrity {integrity}")
    return tarfile.open(fileobj=io.BytesIO(body), mode="r:gz")


def member(archive: tarfile.TarFile, path: str) -> bytes:
    extracted = archive.extractfile(f"package/{path}")
    if extracted is None:
        raise SystemExit(f"package/{path} is not a file")
    return extracted.read()


def refresh() -> None:
    manifest: dict[str, dict[str, Any]] = json.loads(MANIFEST.read_text())
    licences: dict[str, bytes] = {}
    LICENCES.mkdir(parents=True, exist_ok=True)
    for package, pin in manifest.items():
        with tarball(package, pin) as archive:
            for source, target in pin["files"].items():
                (STATIC / target).write_bytes(member(archive, source))
            if "licence" in pin:
                licences[package] = member(archive, pin["licence"])
        print(f"{package}@{pin['version']}: {', '.join(pin['files'].values())}")
    for package, pin in manifest.items():
        text = licences.get(package)
        if text is None:  # published without a licence file: its repository's licence
            origin = pin["licence_of"]
            note = f"{package} ships no licence file; it is published from the same repository as {origin}"
            text = f"{note}, under this licence:\n\n".encode() + licences[origin]
        header = f"{package}@{pin['version']}\n\n".encode()
        (LICENCES / licence_name(package)).write_bytes(header + text)
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    refresh()
