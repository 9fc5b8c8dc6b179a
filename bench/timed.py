"""Timing for flows wrk cannot replay (each round needs the server's fresh challenge): async
clients loop over the flow for a while, and each completed round's latency is kept."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def timed_rounds(
    round_for: Callable[[int], Awaitable[bool]], *, seconds: float, concurrency: int
) -> dict[str, Any]:
    """`concurrency` loops of `round_for(worker)` (True: a good answer) for `seconds`; the
    same numbers a wrk run gives (ok, bad, rate, p50/p90/p99 ms of whole rounds)."""
    latencies: list[float] = []
    bad = 0
    deadline = time.monotonic() + seconds

    async def worker(number: int) -> None:
        nonlocal bad
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                good = await round_for(number)
            except Exception:  # noqa: BLE001 - a failed round is counted, as wrk counts a bad answer
                good = False
            if good:
                latencies.append(1000 * (time.perf_counter() - began))
            else:
                bad += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(number) for number in range(concurrency)))
    elapsed = time.monotonic() - started
    return {
        "ok": len(latencies),
        "bad": bad,
        "seconds": elapsed,
        "rate": len(latencies) / elapsed if elapsed else 0.0,
        "concurrency": concurrency,
        **percentiles(latencies),
    }


def percentiles(latencies: list[float]) -> dict[str, float]:
    if len(latencies) < 2:
        only = latencies[0] if latencies else 0.0
        return {"p50_ms": only, "p90_ms": only, "p99_ms": only}
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50_ms": cuts[49], "p90_ms": cuts[89], "p99_ms": cuts[98]}
