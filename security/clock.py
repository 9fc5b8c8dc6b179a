"""The one wall clock Python code reads for security decisions (a TOTP step, a challenge's
or an enrolment's expiry, the second-factor budget's windows, a kept token's time window,
when an outbox mail is due). Redis scripts read Redis's own clock (`TIME`) instead.

Read it as `clock.now()` / `clock.now_ms()` (the module, not its functions imported by
name), so a test can stop or move time for every reader at once by replacing `now`."""

from __future__ import annotations

import time


def now() -> float:
    """Seconds since the epoch."""
    return time.time()


def now_ms() -> int:
    """Milliseconds since the epoch, whole."""
    return int(now() * 1000)
