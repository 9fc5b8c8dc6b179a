"""Log lines with request ids: text or one JSON object per line (LOG_FORMAT).

Each request gets an id: the `X-Request-ID` a trusted proxy sent (TRUSTED_PROXIES, the
rule X-Forwarded-For follows; a short id of plain characters only), or a fresh one. It
is answered in the `X-Request-ID` response header and, through a context variable that
a logging filter reads, stamped on every log line the request causes, uvicorn's access
line included. The access line never carries the query string: `GET /graphql?query=...`
may hold what a client should not have put in a URL (a password, say).

`log_config` is a `logging.config.dictConfig` dict: `python server.py` hands it to
uvicorn, and `log-config/*.json` (written by `python -m logs json|text`) give the same
logs to `uvicorn server:app --log-config log-config/json.json`.
"""

from __future__ import annotations

import json
import logging
import random
import re
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, NamedTuple

from starlette.datastructures import Headers
from starlette.types import Scope

from security.client_ip import from_trusted_proxy
from settings import LogFormat

# What a proxy's id may look like: long enough for a UUID or a trace id, nothing that
# could forge a log line or a field (no spaces, quotes, control characters).
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
RULE = "-" * 72
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_tag)s] %(message)s"
ACCESS = "uvicorn.access"


class RequestInfo(NamedTuple):
    """The request a log line belongs to (a tuple: made once per request, cheaply)."""

    id: str
    started: float  # time.monotonic() when the request reached the app


current_request: ContextVar[RequestInfo | None] = ContextVar("current_request", default=None)


def current_request_id() -> str | None:
    request = current_request.get()
    return request.id if request is not None else None


def request_id_of(scope: Scope) -> str:
    """The trusted proxy's `X-Request-ID` when it is a plausible id, else a fresh one.

    A client's own header is ignored (it could pin its requests on another's id); of
    several headers the last, the one the nearest proxy wrote, counts.
    """
    state = getattr(scope["app"].state, "services", None)
    client = scope.get("client")
    peer = client[0] if client else None
    if state is not None and from_trusted_proxy(peer, state.settings.trusted_proxy_networks):
        sent = Headers(scope=scope).getlist("x-request-id")
        if sent and VALID_REQUEST_ID.fullmatch(sent[-1]):
            return sent[-1]
    # 32 hex digits, as uuid4().hex: an id, not a secret (no system call per request for it).
    return f"{random.getrandbits(128):032x}"


class RequestContext(logging.Filter):
    """Handler filter: stamps every record with the id of the request that caused it
    (None outside requests) and an access record with the request's duration so far."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request.get()
        record.request_id = request.id if request is not None else None
        if request is not None and record.name == "uvicorn.access":
            record.duration_ms = round((time.monotonic() - request.started) * 1000, 1)
        return True


class AccessPath(logging.Filter):
    """Filter for `uvicorn.access` (AccessLines does its work in ours; kept for log configs
    written before it): drops the query string from the logged path.

    uvicorn logs `'%s - "%s %s HTTP/%s" %d'` with (client, method, path?query, version,
    status); the query may hold secrets, so it is cut before any handler sees it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = without_query(record.args)
        return True


def without_query(args: tuple[object, ...]) -> tuple[object, ...]:
    """uvicorn's access arguments with the path's query string cut (it may hold secrets)."""
    if len(args) != 5:
        return args
    client, method, path, version, status = args
    return (client, method, str(path).split("?", 1)[0], version, status)


class AccessLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler of `uvicorn.access`: one line per request, the hottest log line there is.

    It does what the logger's AccessPath filter and the console's RequestContext filter do
    (the query string cut, the request id and duration stamped) in one step, and writes a
    text line with one format of the record's own message, not through the general
    Formatter machinery: the same line, at a fraction of the cost. Any other format
    (JSON) is its formatter's, as for every other record."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if isinstance(record.args, tuple):
                record.args = without_query(record.args)
            request = current_request.get()
            record.request_id = request.id if request is not None else None
            if request is not None:
                record.duration_ms = round((time.monotonic() - request.started) * 1000, 1)
            formatter = self.formatter
            if type(formatter) is TextFormatter:
                line = (
                    f"{formatter.formatTime(record)} {record.levelname} {record.name} "
                    f"[{record.request_id or '-'}] {record.getMessage()}"
                )
            else:
                line = self.format(record)
            stream = self.stream
            stream.write(line + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write_text_line(self, formatter: TextFormatter, msg: object, args: tuple[object, ...]) -> None:
        """The text line `emit` writes for a record of `msg % args` made now (AccessLogger)."""
        args = without_query(args)
        created = time.time()
        request = current_request.get()
        line = (
            f"{formatter.asctime(created, int((created - int(created)) * 1000) + 0.0)} INFO {ACCESS} "
            f"[{(request.id if request is not None else None) or '-'}] {str(msg) % args if args else msg}"
        )
        with self.lock:
            stream = self.stream
            stream.write(line + self.terminator)
            stream.flush()


class AccessLogger(logging.Logger):
    """The class of `uvicorn.access` under `python server.py` (`fast_access_lines`): when
    its one handler is AccessLines writing text, the line is written straight from the
    call's arguments, the very line AccessLines writes from a record, without making the
    record (a LogRecord fills in a dozen fields, then filters and handlers are walked: 3 %
    of a signed-in read). Any other configuration takes the standard way."""

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        handlers = self.handlers
        if (
            not kwargs
            and len(handlers) == 1
            and type(handler := handlers[0]) is AccessLines
            and type(handler.formatter) is TextFormatter
            and not handler.filters
            and not self.filters
            and handler.level <= logging.INFO
            and self.isEnabledFor(logging.INFO)
        ):
            try:
                handler.write_text_line(handler.formatter, msg, args)
                return
            except RecursionError:
                raise
            except Exception:  # noqa: S110 - the standard way reports it as it reports any
                pass
        super().info(msg, *args, **kwargs)


def fast_access_lines() -> None:
    """`uvicorn.access` becomes an AccessLogger (for `python server.py`, whose logging is ours)."""
    logging.getLogger("uvicorn.access").__class__ = AccessLogger


class TextFormatter(logging.Formatter):
    """One line per record with the request id; the console mailer's mail below it."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """The standard `asctime`, its date and time formatted once a second, not per line."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self.asctime(record.created, record.msecs)

    def asctime(self, created: float, msecs: float) -> str:
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime(self.default_time_format, self.converter(created))
            self._second = second
        return self.default_msec_format % (self._stamp, msecs)

    def format(self, record: logging.LogRecord) -> str:
        record.request_tag = getattr(record, "request_id", None) or "-"
        line = super().format(record)
        mail = getattr(record, "mail", None)
        return f"{line}\n{RULE}\n{mail}\n{RULE}" if mail is not None else line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, and the
    record's own fields (a security event's, an access line's method, path, status and
    duration, the console mailer's `mail`)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _version, status = record.args
            entry.update(method=method, path=path, status=status, client=client)
            entry["duration_ms"] = getattr(record, "duration_ms", None)
            entry["message"] = f"{method} {path} {status}"
        event_fields = getattr(record, "event_fields", None)
        if isinstance(event_fields, dict):  # a security event: its fields, not its JSON as a string
            entry.update(
                {key: value for key, value in event_fields.items() if key not in ("level", "logger")}
            )
            entry["message"] = event_fields.get("event")
        if getattr(record, "mail", None) is not None:
            entry["mail"] = record.mail  # type: ignore[attr-defined]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def lean_records() -> None:
    """Stop filling in the record fields neither format ever shows: the caller's file, line
    and function (a walk up the stack per record), the thread's and the process's names
    and ids. These are the logging HOWTO's own optimization switches; the access line,
    one per request, paid for all of them. For `python server.py`, whose process and log
    configuration are ours."""
    logging._srcfile = None  # type: ignore[attr-defined]  # the HOWTO's switch for caller lookup
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def log_config(log_format: LogFormat | str) -> dict[str, Any]:
    """The dictConfig of LOG_FORMAT (`text` or `json`), for uvicorn's `log_config`.

    Everything goes to stdout through one handler; in text mode the security events
    keep their own handler, which writes each event's JSON as the whole line.
    """
    log_format = LogFormat(log_format)
    line_formatter = "logs.JsonFormatter" if log_format == LogFormat.JSON else "logs.TextFormatter"
    handlers: dict[str, Any] = {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "line",
            "filters": ["request"],
        }
    }
    handlers["access"] = {"class": "logs.AccessLines", "stream": "ext://sys.stdout", "formatter": "line"}
    loggers: dict[str, Any] = {
        "uvicorn": {"level": "INFO", "handlers": [], "propagate": True},
        "uvicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "uvicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    }
    formatters: dict[str, Any] = {"line": {"()": line_formatter}}
    if log_format == LogFormat.TEXT:
        formatters["event"] = {"()": "security.events.JsonLineFormatter"}
        handlers["events"] = {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "event",  # the event's JSON, request_id included, as the whole line
        }
        loggers["authql.security"] = {"level": "INFO", "handlers": ["events"], "propagate": False}
    else:
        loggers["authql.security"] = {"level": "INFO", "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "logs.RequestContext"}, "access_path": {"()": "logs.AccessPath"}},
        "formatters": formatters,
        "handlers": handlers,
        "loggers": loggers,
        "root": {"level": "INFO", "handlers": ["console"]},
    }


if __name__ == "__main__":
    # python -m logs json > log-config/json.json: the file `uvicorn --log-config` reads.
    json.dump(log_config(sys.argv[1] if len(sys.argv) > 1 else "text"), sys.stdout, indent=2)
    sys.stdout.write("\n")
