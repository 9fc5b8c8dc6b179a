"""Structure (review part B): security/ does not import logs.py (which reads
security/client_ip.py), and nothing binds a collection the outbox does not use."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pymongo
from conftest import serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it

ROOT = Path(__file__).resolve().parent.parent


def test_the_security_package_does_not_import_the_logs_module():
    probe = "import sys, security.events, security.sessions, security.identity; print('logs' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False", result.stdout + result.stderr


async def test_an_app_binds_no_outbox_collection_besides_its_own(backend_urls, mailbox):
    settings = settings_with(backend_urls, mailbox, mongo_db="authql_structure_" + secrets.token_hex(4))
    async with serve(settings) as client:
        assert (await client.get("/health/ready")).status_code == 200
        mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"])
        try:
            names = await mongo[settings.mongo_db].list_collection_names()
        finally:
            await mongo.close()
    assert "outbox" not in names, names
