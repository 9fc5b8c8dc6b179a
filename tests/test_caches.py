"""Parsing and validation are cached across requests (strawberry #4635: rules or
options built per request would change the cache key and defeat the caches)."""

from flows import LOGIN, gql, new_email
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from schema.root import CACHE_SIZE


async def test_repeated_operations_hit_the_parse_and_validation_caches(client):
    parse_cache = _get_parse_cache(CACHE_SIZE)
    validate_cache = _get_validate_cache(CACHE_SIZE)
    # A query text no other test sends, so its first request is a miss.
    query = LOGIN + "\n# cache probe"
    await gql(client, query, {"email": new_email(), "password": "whatever-password"})
    parse_before = parse_cache.cache_info()
    validate_before = validate_cache.cache_info()

    for _ in range(5):
        await gql(client, query, {"email": new_email(), "password": "whatever-password"})

    assert parse_cache.cache_info().hits - parse_before.hits == 5
    assert parse_cache.cache_info().misses == parse_before.misses
    assert validate_cache.cache_info().hits - validate_before.hits == 5
    assert validate_cache.cache_info().misses == validate_before.misses
