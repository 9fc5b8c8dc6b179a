"""The schema fuzzer the tests use (tests/test_fuzz.py) and `bench/fuzz.py` runs long.

policy: what every response must keep; values: known ids, tokens and codes; account: the
fuzzer's own user; strategies: Authorization headers and whole HTTP requests; runner: the
target and its kinds of fuzzing; serving: the app on a socket, an SMTP sink; cli: the long run.
"""

from tests.fuzzing.policy import PROTECTED, PolicyViolation, check_response
from tests.fuzzing.runner import Stats, Target, mail_readers, run_all
from tests.fuzzing.serving import MailSink, fuzz_settings, serving
from tests.fuzzing.strategies import EXPLICIT_REQUESTS, TokenFacts

__all__ = [
    "EXPLICIT_REQUESTS",
    "PROTECTED",
    "MailSink",
    "PolicyViolation",
    "Stats",
    "Target",
    "TokenFacts",
    "check_response",
    "fuzz_settings",
    "mail_readers",
    "run_all",
    "serving",
]
