"""Pure parsing of the response headers the checker acts on."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: datetime, cap_s: float | None = None) -> float | None:
    """`Retry-After` as seconds from `now`: delta-seconds or an HTTP-date; None when absent/invalid.

    Dates in the past give 0. The result is capped at `cap_s` when given.
    """
    if value is None:
        return None
    text = value.strip()
    seconds: float
    if text.isdigit():
        seconds = float(int(text))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - now).total_seconds())
    if cap_s is not None:
        seconds = min(seconds, cap_s)
    return seconds
