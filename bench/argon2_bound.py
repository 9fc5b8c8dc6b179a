"""The hardware bound on password work: raw argon2id verifies per second with authql's
parameters, on as many threads as its hash pool has. Login and registration are each one
argon2id operation, so their rates are reported as fractions of this."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher


@dataclass
class Argon2Bound:
    time_cost: int
    memory_kib: int
    parallelism: int
    threads: int
    verifies_per_second: float
    # CPU time of one verify (all of argon2's lanes): what a login or a registration's one
    # hash costs wherever it runs, so the rest of their CPU is the work outside the hash.
    cpu_ms_per_verify: float


def measure(time_cost: int, memory_kib: int, parallelism: int, threads: int, seconds: float) -> Argon2Bound:
    """Verify one hash on `threads` threads for `seconds` (argon2-cffi releases the GIL)."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    password = "correct horse battery staple"
    hashed = hasher.hash(password)
    count = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work() -> None:
        nonlocal count
        while time.monotonic() < deadline:
            hasher.verify(hashed, password)
            with lock:
                count += 1

    started = time.monotonic()
    cpu_before = time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(work) for _ in range(threads)]:
            future.result()
    cpu = time.process_time() - cpu_before
    elapsed = time.monotonic() - started
    return Argon2Bound(
        time_cost, memory_kib, parallelism, threads, count / elapsed, round(1000 * cpu / max(count, 1), 1)
    )
