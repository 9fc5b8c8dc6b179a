"""Structure (review part B7): every Redis script is a `.lua` file, read when the object
that runs it is built (never at import), opening with its KEYS/ARGV comment, compiling on
the real Redis, and run by some module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from redis_client import redis_client

ROOT = Path(__file__).resolve().parent.parent
SECURITY = ROOT / "security"
SOURCES = ("security", "mail", "resolvers", "endpoints", "documents", "schema")


def lua_files() -> list[Path]:
    return sorted(SECURITY.rglob("*.lua"))


def python_files() -> list[Path]:
    top = [path for path in ROOT.glob("*.py")]
    return top + [path for folder in SOURCES for path in (ROOT / folder).rglob("*.py")]


def test_no_python_module_holds_a_lua_script():
    holding = [str(path.relative_to(ROOT)) for path in python_files() if "redis.call(" in path.read_text()]
    assert holding == [], holding


def test_every_script_opens_with_its_keys_and_is_run_by_a_module():
    sources = "\n".join(path.read_text() for path in python_files())
    assert len(lua_files()) >= 18
    for path in lua_files():
        text = path.read_text(encoding="utf-8")
        assert text.startswith("-- KEYS"), f"{path} does not open with its KEYS comment"
        # security/lua/<module>/<name>.lua runs as "<module>/<name>", codes/lua/<name>.lua as "<name>".
        under = SECURITY / "codes" / "lua" if "codes" in path.parts else SECURITY / "lua"
        name = path.relative_to(under).with_suffix("").as_posix()
        assert f'"{name}"' in sources, f"no module runs {path}"


async def test_every_script_compiles_on_redis(backend_urls):
    redis = redis_client(backend_urls)
    try:
        for path in lua_files():
            digest = await redis.script_load(path.read_text(encoding="utf-8"))
            assert (await redis.script_exists(digest)) == [True], path
    finally:
        await redis.aclose()


def test_importing_the_app_reads_no_script():
    """Scripts are read when a service is built (create_app's startup), not at import."""
    probe = (
        "import server, services, security.lockout, security.two_factor, security.user_cache\n"
        "from security import lua\n"
        "print(lua.source.cache_info().currsize)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "0", result.stdout + result.stderr
