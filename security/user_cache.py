"""The signed-in user, kept in process between requests and checked against Redis on each.

Every authenticated request already asks Redis whether its session is live. The same
round trip (one script call) reads the user's cache stamp, `user-cache:{<user id>}`: a
random token replaced by every write to the user, and a count of writes in flight. A
copy loaded from MongoDB is kept with the stamp that was read *before* it was loaded,
and served again only while Redis still holds that very stamp and no write is in
flight. So a profile update, a password change or reset, "log out everywhere" or a
deletion on any worker makes every other worker's copy stale at once:

- a write first counts itself in flight (and replaces the token), then writes MongoDB,
  then replaces the token again and uncounts itself; readers cache nothing while a
  write is in flight, and a copy read before the write carries a token that is gone;
- a write that cannot reach Redis is not made (fail closed);
- a process that dies mid-write leaves its count behind: that user is read from
  MongoDB on every request until the key expires;
- tokens are random, never counters, so a key lost by Redis (FLUSHALL, eviction, TTL)
  and set again can never bring back a stamp an old copy carries; a missing stamp
  means "read MongoDB" and sets a fresh one for the next request.

A Redis that goes back in time (restarted from a snapshot, failed over to a replica that
lagged) can bring an old stamp back. So a copy is served for at most `max_age_seconds`
after it was loaded, and every copy is dropped at once when the process notices a new
Redis (security/redis_watch.py).

Behind a load balancer without sticky sessions most requests reach a process that has
not kept the user. So a process that loads the user from MongoDB also leaves a compact
snapshot of it (security/user_snapshot.py: the public fields and the credential version,
no secret) in the same hash, by a script that writes it only while the token it read
before loading is still there and no write is in flight; the next process gets it back
from the check's own script call, with no MongoDB round trip. A snapshot is served only
under the very token it was written with (every write replaces the token and deletes the
snapshot; a write by an older version that only replaces the token is caught by the
token check), by the same Redis server (its run_id: a restart from old data or a
failover to a replica makes it worthless) and for at most `max_age_seconds` by Redis's
own clock: the bounds a process's own copy has.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import get_origin

from redis.asyncio import Redis

from documents.user import User
from security import lua
from security.user_snapshot import Unreadable, UserSnapshot, read_snapshot, snapshot_of

# The stamp's fields, as the scripts (security/lua/user_cache/) name them too.
TOKEN = "token"
PENDING = "pending"
# The snapshot (security/user_snapshot.py), beside what it is valid under: the token it was
# written with (`snapshot-token`), the run_id of the Redis server that holds it
# (`snapshot-server`), when (`snapshot-at`: microseconds, by that server's clock). The same
# hash as the stamp: the same slot, the same expiry.
SNAPSHOT = "snapshot"
# What the check's script says of the session: not live, live, live and found in MongoDB
# lately by some process on this Redis server (security/lua/sessions/confirm.lua).
NOT_LIVE, LIVE, CONFIRMED = 0, 1, 2


@dataclass(frozen=True)
class Stamp:
    """What Redis said about a user in the hot path's round trip."""

    token: bytes | None
    pending: int
    # Read with the stamp, for a caller without a current copy: the snapshot and its age.
    snapshot: bytes | None = None
    snapshot_age_seconds: float = 0.0
    # Read in the same call: how long ago a process found the session in MongoDB (CONFIRMED).
    confirmed_age_seconds: float | None = None

    @property
    def cacheable(self) -> bool:
        return self.token is not None and self.pending <= 0


class UserCache:
    """Copies of recently signed-in users, at most `size`, each valid under one stamp."""

    def __init__(self, redis: Redis, *, size: int, ttl_seconds: int, max_age_seconds: float) -> None:
        self._redis = redis
        self._size = size
        self._ttl = ttl_seconds
        self._max_age = max_age_seconds
        # user id -> (the stamp's token, the copy, when it was loaded: time.monotonic())
        # A snapshot served from Redis is kept too (it is immutable: no copy to make).
        self._copies: OrderedDict[str, tuple[bytes, User | UserSnapshot, float]] = OrderedDict()
        self._check = lua.register(redis, "user_cache/check")
        self._keep = lua.register(redis, "user_cache/keep")
        self._window = str(int(max_age_seconds * 1_000_000)).encode()

    async def check(self, live_key: str, user_id: str, *, confirm: bool = False) -> tuple[int, Stamp]:
        """Whether `live_key` (the session's, security/sessions.py) exists (NOT_LIVE, LIVE,
        or with `confirm` CONFIRMED when a process found the session in MongoDB lately), and
        the user's stamp, with the user's snapshot when this process has no copy under the
        current token: one round trip, the one every authenticated request makes anyway."""
        kept = self._copies.get(user_id)
        # A copy too old to serve asks for the snapshot as no copy does.
        current = kept[0] if kept is not None and time.monotonic() - kept[2] < self._max_age else b""
        reply = await self._check(
            keys=[live_key, _key(user_id)],
            args=[current, self._window, b"1" if confirm else b"0"],
        )
        live, (token, pending) = reply[0], reply[1]
        writes = int(pending) if pending is not None else 0
        if len(reply) == 2:  # nothing more (the warm path)
            return live, Stamp(token, writes)
        confirmed = reply[2] / 1_000_000 if reply[2] is not None else None
        snapshot, age = (reply[3], reply[4] / 1_000_000) if len(reply) > 3 else (None, 0.0)
        return live, Stamp(token, writes, snapshot, age, confirmed)

    def get(self, user_id: str, stamp: Stamp) -> User | UserSnapshot | None:
        """The kept copy, when it was loaded under the stamp Redis holds now; else the
        snapshot read with the stamp (then kept as this process's copy)."""
        if not stamp.cacheable:
            return None
        kept = self._copies.get(user_id)
        if kept is not None and kept[0] == stamp.token:
            if time.monotonic() - kept[2] < self._max_age:
                self._copies.move_to_end(user_id)
                copy = kept[1]
                # A request may change its copy of a User (lists too); the kept one stays.
                return own_copy(copy) if type(copy) is User else copy
            del self._copies[user_id]  # old enough that a Redis rollback may hide a change
        return self._from_snapshot(user_id, stamp)

    def _from_snapshot(self, user_id: str, stamp: Stamp) -> UserSnapshot | None:
        if stamp.snapshot is None or stamp.token is None:
            return None
        try:
            snapshot = read_snapshot(stamp.snapshot)
        except Unreadable:
            return None
        if str(snapshot.id) != user_id:
            return None
        self._remember(user_id, stamp.token, snapshot, time.monotonic() - stamp.snapshot_age_seconds)
        return snapshot

    def _remember(self, user_id: str, token: bytes, copy: User | UserSnapshot, loaded: float) -> None:
        self._copies[user_id] = (token, copy, loaded)
        self._copies.move_to_end(user_id)
        while len(self._copies) > self._size:
            self._copies.popitem(last=False)

    async def keep(self, user_id: str, stamp: Stamp, user: User | None) -> None:
        """Remember `user`, loaded from MongoDB after `stamp` was read; with no stamp in
        Redis, set a fresh one so the next request can keep its copy."""
        if stamp.token is None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hsetnx(_key(user_id), TOKEN, secrets.token_bytes(12))
                pipe.expire(_key(user_id), self._ttl)
                await pipe.execute()
            return
        if user is None or not stamp.cacheable:
            self._copies.pop(user_id, None)
            return
        assert stamp.token is not None  # cacheable
        self._remember(user_id, stamp.token, own_copy(user), time.monotonic())
        if stamp.snapshot is None:  # none under this token yet: leave one for the other processes
            snapshot = snapshot_of(user)
            if snapshot is not None:
                await self._keep(keys=[_key(user_id)], args=[stamp.token, snapshot])

    def forget_all(self) -> None:
        """Drop every copy: Redis may no longer hold the stamps they were kept under."""
        self._copies.clear()

    @asynccontextmanager
    async def changing(self, user_id: str) -> AsyncIterator[None]:
        """Around every write to the user: stales every process's copy before and after."""
        await self._restamp(user_id, pending=1)
        try:
            yield
        finally:
            await self._restamp(user_id, pending=-1)

    async def _restamp(self, user_id: str, *, pending: int) -> None:
        """A new token, the writes in flight counted by `pending`; this process's copy dropped."""
        key = _key(user_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, PENDING, pending)
            pipe.hset(key, TOKEN, secrets.token_bytes(12))
            pipe.hdel(key, SNAPSHOT)  # worthless under the new token anyway: no memory kept for it
            pipe.expire(key, self._ttl)
            await pipe.execute()
        self._copies.pop(user_id, None)


def _key(user_id: str) -> str:
    return f"user-cache:{{{user_id}}}"


def own_copy(user: User) -> User:
    """A copy of `user` whose lists are its own (what they hold, strings, cannot change):
    what a deep copy gives here, at a fraction of its cost on every signed-in request."""
    copy = user.model_copy()
    fields = copy.__dict__
    for name in MUTABLE_FIELDS:
        fields[name] = fields[name].copy()
    return copy


# The User fields a request could change in place: its lists (and dicts or sets, should it get any).
MUTABLE_FIELDS = tuple(
    name for name, field in User.model_fields.items() if get_origin(field.annotation) in (list, dict, set)
)
