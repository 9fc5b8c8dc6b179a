"""Turns between pytest-xdist workers: a test marked `serial` runs while no other test does.

Timing comparisons and CPU-heavy tests measure the machine; a test of another worker
running beside them would be part of what they measure. Every test holds a shared lock
on one file of the run; a `serial` test holds it exclusively. A turnstile lock, taken
before it, keeps a waiting `serial` test from being starved by the other workers' shared
locks (Linux's flock gives a waiting exclusive lock no preference).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class Turns:
    """One worker's side of the run's locks (files in a directory every worker shares)."""

    def __init__(self, directory: Path) -> None:
        self._turnstile = os.open(directory / "turnstile", os.O_RDWR | os.O_CREAT, 0o600)
        self._run = os.open(directory / "run", os.O_RDWR | os.O_CREAT, 0o600)
        self._alone: bool | None = None  # what this worker holds: nothing, shared, exclusive

    def take(self, alone: bool) -> None:
        """Wait for this worker's turn: alone, or beside other tests that are not alone."""
        if self._alone is alone:
            return
        self.release()
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        fcntl.flock(self._run, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:  # a serial test may now wait at the turnstile for the others to end
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        self._alone = alone

    def release(self) -> None:
        fcntl.flock(self._run, fcntl.LOCK_UN)
        fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        self._alone = None

    def close(self) -> None:
        os.close(self._run)
        os.close(self._turnstile)
