"""Log lines: JSON (python-json-logger) or text, each with the instance and the request id.

The request id lives in a context variable (:data:`REQUEST_ID`): set for a request by ``serve``'s
ASGI layer (connector/observe/http.py) or Flask's ``before_request`` (tests, other WSGI servers), and
by the dispatcher for the delivery of an outbox row written by that request (the row's payload carries
it), so every line about one change — the API call, the delivery to Teams or the PBX — carries the same
id. Jobs (the Salesforce flush, the sweep) run under an id of their own (:func:`job_id`).

An id sent by the client (``X-Request-Id``) is used when it is short and made of safe characters
(:func:`accepted_id`); otherwise a new one is made, so a client cannot write arbitrary text into the log.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlencode

from pythonjsonlogger.json import JsonFormatter

#: the id of the request (or job) this thread or task is working for
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
#: what a client-sent X-Request-Id may be: up to 64 letters, digits and ``-_.:``
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
#: query parameters whose values are never logged (stream tokens, OAuth codes, signatures ...)
_SECRET_PARAM = re.compile(r"token|secret|password|passwd|pin|key|code|signature|sig|auth|session|cookie", re.I)

ACCESS = logging.getLogger("connector.access")


def new_id() -> str:
    return uuid.uuid4().hex


def accepted_id(sent: str | bytes | None) -> str:
    """The client's X-Request-Id when it is safe to log and hand back, else a new id."""
    if isinstance(sent, bytes):
        sent = sent.decode("latin-1")
    if sent and _SAFE_ID.fullmatch(sent):
        return sent
    return new_id()


def job_id(name: str) -> str:
    """An id for a run of a job (``salesforce-flush-3f2a...``), so its lines can be found together."""
    return f"{name}-{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def request_id(value: str | None) -> Iterator[str | None]:
    """Work for ``value`` inside the block (None: the id stays as it is)."""
    if value is None:
        yield REQUEST_ID.get()
        return
    token = REQUEST_ID.set(value)
    try:
        yield value
    finally:
        REQUEST_ID.reset(token)


def safe_query(query: str | bytes) -> str:
    """The query string with the value of every token-like parameter replaced by ``***``."""
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*/:,")


class _Context(logging.Filter):
    """Adds ``instance`` and ``request_id`` to every record (``-`` when none)."""

    def __init__(self, instance: str):
        super().__init__()
        self.instance = instance

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = REQUEST_ID.get() or "-"
        record.instance = self.instance
        return True


class _Json(JsonFormatter):
    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


JSON_FIELDS = ("time", "level", "logger", "instance", "request_id", "message")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def configure(fmt: str, level: str, instance: str, stream: TextIO | None = None) -> logging.Handler:
    """One handler on the root logger, in ``fmt`` (``json`` or ``text``), at ``level``; returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_Context(instance))
    if fmt == "json":
        handler.setFormatter(
            _Json(
                "%(levelname)s %(name)s %(instance)s %(request_id)s %(message)s",
                rename_fields={"levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run is noise
    return handler
