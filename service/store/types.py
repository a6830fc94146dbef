"""Column types: datetimes are stored as naive UTC and always read back as aware UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# The text SQLite stores for a datetime (the default storage format of SQLAlchemy's SQLite
# DATETIME), "YYYY-MM-DD HH:MM:SS.ffffff": also datetime.isoformat(" ", "microseconds").
_TEXT_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)
_NAIVE = "naive datetime given to the store; use aware UTC datetimes"


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(_NAIVE)
        return value.astimezone(UTC).replace(tzinfo=None)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """SQLite: `process_bind_param` and SQLite's DATETIME text in one step (bulk writes bind
        a datetime per row and column): the same text, by `utc_text`."""
        impl = self.impl_instance
        if isinstance(impl, SQLITE_DATETIME) and impl._storage_format == _TEXT_FORMAT:
            return utc_text()
        return super().bind_processor(dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite returns text for raw SQL results
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def utc_text() -> Callable[[datetime | None], str | None]:
    """A converter of aware datetimes to their naive UTC text, "YYYY-MM-DD HH:MM:SS.ffffff":
    what SQLite stores for `UTCDateTime` (its DATETIME text of `process_bind_param`'s value),
    and what PostgreSQL reads back as that exact timestamp. None stays None; a naive datetime
    is refused (ValueError), as by `process_bind_param`.

    Each converter remembers the last datetime object it converted: bulk writes convert the
    same object row after row (a sync's `now`) or column after column (a check's time).
    """
    # One tuple, replaced whole: threads sharing a converter always read a matching pair.
    last: list[tuple[datetime | None, str | None]] = [(None, None)]

    def convert(value: datetime | None) -> str | None:
        if value is None:
            return None
        seen, text = last[0]
        if value is seen:
            return text
        if value.tzinfo is None:
            raise ValueError(_NAIVE)
        utc = value if value.tzinfo is UTC else value.astimezone(UTC)
        if type(utc) is datetime:  # "YYYY-MM-DD HH:MM:SS.ffffff+00:00" without its offset
            text = utc.isoformat(" ", "microseconds")[:26]
        else:  # a subclass may write its own isoformat
            text = _TEXT_FORMAT % {
                "year": utc.year,
                "month": utc.month,
                "day": utc.day,
                "hour": utc.hour,
                "minute": utc.minute,
                "second": utc.second,
                "microsecond": utc.microsecond,
            }
        last[0] = (value, text)
        return text

    return convert
