"""The access line of `python server.py` (logs.AccessLogger): written without a log record
when it is text, and the very line the record's way writes."""

from __future__ import annotations

import io
import logging

from logs import AccessLines, AccessLogger, RequestInfo, TextFormatter, current_request

ARGS = ("127.0.0.1:5000", "POST", "/graphql?query=secret", "1.1", 200)
FORMAT = '%s - "%s %s HTTP/%s" %d'


def access_logger(cls: type[logging.Logger]) -> tuple[logging.Logger, io.StringIO, list[object]]:
    stream = io.StringIO()
    handler = AccessLines(stream)
    handler.setFormatter(TextFormatter())
    records: list[object] = []
    emit = handler.emit
    handler.emit = lambda record: (records.append(record), emit(record))  # type: ignore[method-assign]
    logger = cls("uvicorn.access")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream, records


def test_the_text_access_line_is_the_records_line_without_a_record():
    token = current_request.set(RequestInfo("abc123", 0.0))
    try:
        fast, fast_out, fast_records = access_logger(AccessLogger)
        standard, standard_out, standard_records = access_logger(logging.Logger)
        fast.info(FORMAT, *ARGS)
        standard.info(FORMAT, *ARGS)
    finally:
        current_request.reset(token)
    assert fast_records == [] and len(standard_records) == 1
    fast_line, standard_line = fast_out.getvalue(), standard_out.getvalue()
    assert fast_line.endswith(' INFO uvicorn.access [abc123] 127.0.0.1:5000 - "POST /graphql HTTP/1.1" 200\n')
    assert fast_line[23:] == standard_line[23:]  # after the time, which is the call's own
    assert len(fast_line[:23]) == len(standard_line[:23]) and fast_line[:17] == standard_line[:17]


def test_any_other_configuration_takes_the_records_way():
    fast, out, records = access_logger(AccessLogger)
    fast.addFilter(lambda record: True)  # a filter of the logger's: it must see a record
    fast.info(FORMAT, *ARGS)
    assert len(records) == 1 and "[-]" in out.getvalue()
    quiet, out, records = access_logger(AccessLogger)
    quiet.setLevel(logging.WARNING)
    quiet.info(FORMAT, *ARGS)
    assert records == [] and out.getvalue() == ""
