"""Structured JSON logs: timestamp, level, message, request_id (and any bound fields).

Vercel collects stdout/stderr; one JSON object per line is what its log search
and drains parse. The request id is bound per request in a context variable,
so threads spawned for deliveries carry it when they copy the context.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

_fields: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("vigil_log_fields", default={})


def bind(**fields: Any) -> contextvars.Token[dict[str, Any]]:
    return _fields.set({**_fields.get(), **fields})


def unbind(token: contextvars.Token[dict[str, Any]]) -> None:
    try:
        _fields.reset(token)
    except ValueError:  # reset from another context: fall back to clearing
        _fields.set({})


def current(name: str) -> Any:
    return _fields.get().get(name)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # Log timestamps are wall time for people reading logs, not domain time.
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        out: dict[str, Any] = {
            "timestamp": ts,
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "request_id": _fields.get().get("request_id"),
        }
        for k, v in _fields.get().items():
            out.setdefault(k, v)
        extra = getattr(record, "data", None)
        if isinstance(extra, dict):
            for k, v in extra.items():
                out.setdefault(k, v)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """One short line per record for a person watching the local server, stamped with
    the clock Vigil runs on (under `--fake-clock`, the fake time)."""

    def format(self, record: logging.LogRecord) -> str:
        from lib import clock  # core, but imported late: log is configured before anything else

        at = clock.now() if clock.is_frozen() else record.created
        stamp = time.strftime("%H:%M:%S", time.gmtime(at))
        text = f"{stamp} {record.levelname:<7} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class EventsOnly(logging.Filter):
    """The local server's quiet console: incident events, and warnings or worse from the rest
    (the console channel's full messages only with --verbose)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "vigil.events":
            return record.levelno >= logging.INFO
        if record.name == "vigil.console":
            return False
        return record.levelno >= logging.WARNING


def use_text_format(verbose: bool = False) -> None:
    """Readable lines instead of JSON (the local server; Vercel keeps JSON). Quiet unless
    `verbose`: one line per incident event, plus warnings and errors."""
    root = logging.getLogger("vigil")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in root.handlers:
        handler.setFormatter(TextFormatter())
        for f in [f for f in handler.filters if isinstance(f, EventsOnly)]:
            handler.removeFilter(f)
        if not verbose:
            handler.addFilter(EventsOnly())


_configured = False


def configure(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the `vigil` loggers (idempotent)."""
    global _configured
    if _configured:
        return
    _configured = True
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("vigil")
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


configure()
