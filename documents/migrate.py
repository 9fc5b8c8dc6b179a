"""The indexes authql's collections need, built by one explicit step:
`python -m documents.migrate` (reads the same settings as the server), run once per
deployment before the workers start, and again after an upgrade. `python server.py` in
the embedded default runs it itself (MONGO_INDEXES=build).

Workers only check (MONGO_INDEXES=check, the default with a MONGO_URL): a first build
on a large collection can take longer than any request timeout, and N workers each
building at start-up would crash-loop together. A worker that finds an index missing
refuses to start, naming this step (the unique email index is what keeps two accounts
from sharing an address)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from documents import DOCUMENT_MODELS, OutboxMail
from documents.webhook import DELIVERIES_SUFFIX, WebhookDelivery

MIGRATE = "python -m documents.migrate"


def expected(outbox_collection: str) -> dict[str, list[IndexModel]]:
    """Every collection authql indexes, with its indexes."""
    wanted: dict[str, list[IndexModel]] = {
        model.Settings.name: list(model.Settings.indexes)  # type: ignore[attr-defined]
        for model in DOCUMENT_MODELS
    }
    wanted[outbox_collection] = list(OutboxMail.Settings.indexes)
    wanted[outbox_collection + DELIVERIES_SUFFIX] = list(WebhookDelivery.Settings.indexes)
    return wanted


async def build_indexes(database: AsyncDatabase[Any], outbox_collection: str) -> None:
    """Create every index (those present are left as they are), the collections side by
    side: one round trip's wait, not one per collection (every app the tests start builds)."""
    await asyncio.gather(
        *(
            database[collection].create_indexes(indexes)
            for collection, indexes in expected(outbox_collection).items()
        )
    )


async def present(database: AsyncDatabase[Any], outbox_collection: str) -> list[str]:
    """The indexes authql needs that the database holds, as collection.index."""
    missing = set(await missing_indexes(database, outbox_collection))
    return [name for name in _names(outbox_collection) if name not in missing]


async def missing_indexes(database: AsyncDatabase[Any], outbox_collection: str) -> list[str]:
    """The indexes authql needs that the database lacks, as collection.index. Compared by
    their fields and uniqueness, not their names or directions (nx-27017 names indexes its
    own way and keeps every key ascending)."""
    missing = []
    for collection, indexes in expected(outbox_collection).items():
        have = set()
        async for index in await database[collection].list_indexes():
            have.add((tuple(dict(index["key"])), bool(index.get("unique"))))
        for index in indexes:
            document = index.document
            if (tuple(dict(document["key"])), bool(document.get("unique"))) not in have:
                missing.append(f"{collection}.{document['name']}")
    return missing


def _names(outbox_collection: str) -> list[str]:
    return [
        f"{collection}.{index.document['name']}"
        for collection, indexes in expected(outbox_collection).items()
        for index in indexes
    ]


async def main() -> int:
    from settings import ConfigurationError, load_settings  # noqa: PLC0415 (the entry point only)

    settings = load_settings()
    if settings.mongo_url is None:
        raise ConfigurationError(
            "MONGO_URL is not set (`python server.py` builds the embedded store's indexes)"
        )
    client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        await build_indexes(client[settings.mongo_db], settings.outbox_collection)
        built = await present(client[settings.mongo_db], settings.outbox_collection)
    finally:
        await client.close()
    print("indexes in place: " + ", ".join(sorted(built)))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
