"""argon2id hashing in a bounded worker pool with a bounded backlog, so a burst of
logins never stalls the event loop and a flood of them never queues without end."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from prometheus_client import Histogram

import metrics

T = TypeVar("T")
logger = logging.getLogger("authql.passwords")


# Set by the HTTP layer for each request: starts watching the client (once) and returns
# an Event that fires when it hangs up. Only a hash asks, so other requests watch nothing.
caller_gone: ContextVar[Callable[[], asyncio.Event] | None] = ContextVar("caller_gone", default=None)


@functools.cache
def dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    """A hash of a random password with these parameters, made once per process: every
    further app of the process (tests start hundreds) verifies against the same one
    instead of spending a hash at each start-up."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    return hasher.hash("authql dummy password " + secrets.token_urlsafe(16))


class CallerGone(Exception):
    """The caller hung up while its hash waited for a worker: the hash was dropped."""


class PasswordQueueFull(Exception):
    """More hashes are running or waiting than the pool may hold: refused at once.

    Waiting in line would only make every caller, legitimate ones included, slower
    for as long as a flood lasts; the client sees SERVICE_UNAVAILABLE and retries.
    """


class Passwords:
    """Hash and verify passwords off the event loop with at most `workers` threads
    and at most `queue_limit` more hashes waiting for one.

    argon2-cffi releases the GIL while hashing, so threads give real parallelism;
    the pool bound keeps memory at `workers * memory_kib`, and the queue bound keeps
    the wait of an accepted hash under `queue_limit / workers + 1` hash times. A hash
    whose caller hung up (`caller_gone`) before a thread took it never runs, and
    cancelling the awaiting task cancels a hash not yet started too.

    The hashing threads run at a lower CPU priority (HASHING_NICENESS): while logins
    keep every core busy, the event loop still gets the CPU it asks for, so signed-in
    reads are not queued behind password work, and hashing loses nothing while the
    loop is idle.
    """

    def __init__(
        self,
        *,
        time_cost: int,
        memory_kib: int,
        parallelism: int,
        workers: int,
        queue_limit: int,
        niceness: int | None = None,
    ) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="argon2",
            initializer=lower_this_threads_priority,
            initargs=(HASHING_NICENESS if niceness is None else niceness,),
        )
        self._capacity = workers + queue_limit
        self._in_flight = 0  # submitted and not yet finished or cancelled
        self._lock = threading.Lock()  # the count is released from worker threads
        self._refusing = False  # log once per overload, not once per refused request
        # A real hash of a random password: verifying against it costs exactly what
        # verifying a real user's password costs, so unknown emails are not faster.
        self._dummy_hash = dummy_hash(time_cost, memory_kib, parallelism)
        self._hash_seconds = metrics.PASSWORD_HASH_SECONDS.labels("hash")
        self._verify_seconds = metrics.PASSWORD_HASH_SECONDS.labels("verify")

    async def hash(self, password: str) -> str:
        return await self._run(self._hash_seconds, self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash, burn one verify and answer False."""
        if password_hash is None:
            await self._run(self._verify_seconds, self._verify_sync, self._dummy_hash, password)
            return False
        return await self._run(self._verify_seconds, self._verify_sync, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _run(self, seconds: Histogram, function: Callable[..., T], *args: str) -> T:
        """`function(*args)` on a hashing thread, timed into the histogram child `seconds`."""
        watch = caller_gone.get()
        gone = watch() if watch is not None else None
        if gone is not None:
            await asyncio.sleep(0)  # the watch's first look: a client already gone is seen now
            if gone.is_set():
                raise CallerGone()
        with self._lock:
            if self._in_flight >= self._capacity:
                if not self._refusing:
                    logger.warning("password queue full (%d in flight): refusing hashes", self._in_flight)
                self._refusing = True
                metrics.PASSWORD_HASHES_REFUSED.inc()
                raise PasswordQueueFull()
            self._refusing = False
            self._in_flight += 1
        metrics.PASSWORD_HASHES_WAITING.inc()
        started = hash_started.get()
        on_start = None
        if started is not None:
            loop = asyncio.get_running_loop()

            def on_start() -> None:
                loop.call_soon_threadsafe(started)

        job = self._pool.submit(_timed, seconds, on_start, function, *args)
        job.add_done_callback(self._release)  # on completion, or on cancel before it starts
        result = asyncio.wrap_future(job)  # cancelling this await cancels a job not yet started
        if gone is None:
            return await result
        hung_up = asyncio.ensure_future(gone.wait())
        try:
            await asyncio.wait((result, hung_up), return_when=asyncio.FIRST_COMPLETED)
        finally:
            hung_up.cancel()
        if not result.done() and job.cancel():
            raise CallerGone()  # still queued: nobody waits for it, so it never runs
        return await result  # already running (or done): let it finish

    def _release(self, job: Future[Any]) -> None:
        if job.cancelled():  # cancelled while waiting: `_timed` never ran to count it out
            metrics.PASSWORD_HASHES_WAITING.dec()
        with self._lock:
            self._in_flight -= 1


# The default of HASHING_NICENESS (settings.py): at nice 10 a hashing thread weighs 110
# against the event loop's 1024 when both want the CPU. argon2's lane threads, started
# from the hashing thread, inherit it. Nice 19 (weight 15) kept the bench's `me` p99
# under login load at 1.1-1.3x idle against 1.5-2.2x at 10, but under `--workers N` with
# N >= cores the other workers' event loops can take every core, and a nice-19 hash then
# gets about 1.5 % of one: logins starve until the queue refuses them. 10 is the safe
# default; 19 suits a machine with more cores than workers.
HASHING_NICENESS = 10

# What to call on the event loop when this task's next hash leaves the queue for a
# thread (the login lockout renews its slot's deadline: security/lockout.py).
hash_started: ContextVar[Callable[[], object] | None] = ContextVar("hash_started", default=None)


def lower_this_threads_priority(niceness: int = HASHING_NICENESS) -> None:
    """Make the calling thread nicer; where the platform has no per-thread nice, a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass


def _timed(
    seconds: Histogram, on_start: Callable[[], None] | None, function: Callable[..., T], *args: str
) -> T:
    """On a hashing thread: no longer waiting (`on_start` told); the time the hash itself
    takes is observed."""
    metrics.PASSWORD_HASHES_WAITING.dec()
    if on_start is not None:
        on_start()
    started = time.perf_counter()
    try:
        return function(*args)
    finally:
        seconds.observe(time.perf_counter() - started)
