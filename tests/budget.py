"""How long the randomized tests search: a budget for every run, a longer one for a nightly run.

The fuzzer (tests/test_fuzz.py) and the state machine (tests/test_stateful.py) are
derandomized, so every run replays the same cases; a longer search finds what the
everyday one cannot. `AUTHQL_TEST_LONG=1 ./run pytest tests/test_fuzz.py tests/test_stateful.py`
runs them with the long budget (README, "Run the whole test suite")."""

from __future__ import annotations

import os

LONG = os.environ.get("AUTHQL_TEST_LONG", "").strip() not in ("", "0")


def examples(everyday: int, long: int) -> int:
    """`everyday` cases in a plain run; `long` with AUTHQL_TEST_LONG set."""
    return long if LONG else everyday
