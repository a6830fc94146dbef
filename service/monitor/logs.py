"""Daemon logs: human-readable lines by default, JSON lines with `--log-format json`.

Structured facts go in `extra={"fields": {...}}`; they end `key=value` pairs in text and the
`fields` object in JSON (one object per line: time, level, message, fields).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

LOGGER_NAME = "linkwatch"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    value = getattr(record, "fields", None)
    return dict(value) if isinstance(value, dict) else {}


def _time(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [_time(record), record.levelname, record.getMessage()]
        parts += [f"{k}={_text_value(v)}" for k, v in _fields(record).items()]
        line = " ".join(parts)
        if record.exc_info:
            line += " error=" + _text_value(_exc_line(record))
        return line


class OneShotFormatter(logging.Formatter):
    """`linkwatch: warning: ...`: the shape of every other one-line CLI message."""

    def format(self, record: logging.LogRecord) -> str:
        return f"linkwatch: {record.levelname.lower()}: {record.getMessage()}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        if record.exc_info:
            fields["error"] = _exc_line(record)
        if record.name != LOGGER_NAME and not record.name.startswith(LOGGER_NAME + "."):
            fields.setdefault("logger", record.name)
        obj = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
            "fields": fields,
        }
        return json.dumps(obj, default=str, ensure_ascii=False)


def _exc_line(record: logging.LogRecord) -> str:
    assert record.exc_info is not None
    exc = record.exc_info[1]
    return f"{type(exc).__name__}: {exc}" if exc is not None else "error"


def _text_value(value: object) -> str:
    text = str(value)
    return json.dumps(text) if (not text or any(c.isspace() or c == '"' for c in text)) else text


def configure_logging(fmt: str = "text", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record (ours and our libraries') to `stream` (stderr) in `fmt`:
    "text" (daemon lines), "json" (one object per line) or "oneshot" (CLI messages)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatters = {"json": JsonFormatter, "oneshot": OneShotFormatter}
    handler.setFormatter(formatters.get(fmt, TextFormatter)())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler narrates every tick and httpx every request at INFO; keep their warnings.
    for noisy in ("apscheduler", "httpx", "httpcore", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
