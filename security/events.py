"""Security events: one JSON object per line on the `authql.security` logger.

For alerting and forensics: registration steps, failed codes, burnt flows, logins,
lockouts, rate limits, refresh-token reuse, logouts. Never a code, token, password
or password hash; an email appears only as a keyed fingerprint, enough to correlate
events of one address without writing the address into the log. Each event carries
the id of the request that caused it, as the request's other log lines do: read through
the `request_id` callable it is given (logs.py's, in services.py), so security/ does not
import logs.py, which itself reads security/client_ip.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

logger = logging.getLogger("authql.security")


class SecurityEvents:
    def __init__(self, key: bytes, *, request_id: Callable[[], str | None] = lambda: None) -> None:
        """`key`: the data-key ring's "authql event fingerprints" key (services.py); after a
        rotation an address's fingerprint changes, so correlate across it by time.
        `request_id`: the current request's id, for each event (logs.py's, given by services.py)."""
        self._key = key
        self._request_id = request_id
        # Told of every event after it is logged (the admin API's audit log keeps the
        # people's own events, security/audit.py); set at start-up, never per request.
        self.sink: Callable[[dict[str, str | int | None]], None] | None = None

    def emit(self, event: str, *, email: str | None = None, **fields: str | int | None) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        record: dict[str, str | int | None] = {"event": event, "time": now}
        if email is not None:
            record["account"] = self.fingerprint(email)
        request_id = self._request_id()
        if request_id is not None:
            record["request_id"] = request_id
        record.update(fields)
        # The JSON line is the message (text logs print it as is); JSON logs take the fields.
        logger.info(json.dumps(record, sort_keys=True), extra={"event_fields": record})
        if self.sink is not None:
            self.sink(record)

    def fingerprint(self, email: str) -> str:
        return hmac.new(self._key, email.encode(), hashlib.sha256).hexdigest()[:16]


class JsonLineFormatter(logging.Formatter):
    """The event's JSON as the whole line, so log shippers can parse it as is."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()
