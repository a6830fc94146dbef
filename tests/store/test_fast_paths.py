"""Shortcuts of the bulk writes give exactly what the long way gives.

- a datetime bound on SQLite: UTCDateTime writes SQLAlchemy's own DATETIME text of its
  naive UTC value, in one step, remembering the last datetime object it converted;
- the host of a link: `url_host` looks an http(s) URL's host up by its scheme and authority
  (cached), and must answer what `urlsplit(url).hostname` answers for the whole URL.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.types import TypeDecorator

from service.store.repo import url_host
from service.store.types import UTCDateTime, utc_text

ZONES = [
    UTC,
    ZoneInfo("UTC"),
    timezone(timedelta(0)),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(-timedelta(hours=11, minutes=59)),
    ZoneInfo("America/New_York"),  # DST: folds and gaps
    ZoneInfo("Australia/Lord_Howe"),  # half-hour DST
]


class OwnText(datetime):
    """A datetime subclass with its own isoformat (as some libraries' are)."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "not the stored text"


def _datetimes(count: int) -> list[datetime]:
    rng = random.Random(20260110)
    out = [
        OwnText(2026, 1, 10, 12, 0, 0, 5, tzinfo=UTC),
        OwnText(2026, 1, 10, 12, 0, 0, 5, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(1, 1, 2, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=0),
        datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=1),
    ]
    for _ in range(count):
        value = datetime(
            rng.randint(2, 9998),
            rng.randint(1, 12),
            rng.randint(1, 28),
            rng.randint(0, 23),
            rng.randint(0, 59),
            rng.randint(0, 59),
            rng.choice([0, rng.randint(0, 999_999)]),
            tzinfo=rng.choice(ZONES),
            fold=rng.randint(0, 1),
        )
        out.append(value)
        if rng.random() < 0.3:  # the same object again, and an equal one in another zone
            out += [value, value.astimezone(rng.choice(ZONES)), value]
    return out


def test_sqlite_binds_sqlalchemys_own_datetime_text() -> None:
    dialect = sqlite.dialect()
    column_type = UTCDateTime().dialect_impl(dialect)
    assert isinstance(column_type, UTCDateTime)
    fast = column_type.bind_processor(dialect)
    long_way: Any = TypeDecorator.bind_processor(
        column_type, dialect
    )  # process_bind_param + DATETIME
    assert fast is not None and long_way is not None
    for value in _datetimes(20_000):
        assert fast(value) == long_way(value), value
    assert fast(None) is None
    assert fast(datetime(2026, 1, 10, 12, 0, tzinfo=UTC)) == "2026-01-10 12:00:00.000000"


def test_postgresql_text_is_the_timestamp_it_binds() -> None:
    dialect = psycopg.dialect()  # type: ignore[no-untyped-call]
    bind = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert bind is not None
    convert = utc_text()
    for value in _datetimes(5_000):
        assert datetime.fromisoformat(convert(value) or "") == bind(value), value


SQLITE_BIND = UTCDateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())


@pytest.mark.parametrize("convert", [utc_text(), SQLITE_BIND], ids=["utc_text", "sqlite"])
def test_a_naive_datetime_is_refused(convert: Callable[[datetime], object]) -> None:
    aware = datetime(2026, 1, 10, tzinfo=UTC)
    convert(aware)  # remembered: a naive datetime equal in fields is still refused
    with pytest.raises(ValueError, match="naive datetime"):
        convert(aware.replace(tzinfo=None))


def _host_the_long_way(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "")[:255]
    except ValueError:
        return ""


def test_url_host_answers_what_urlsplit_answers() -> None:
    urls = [
        "https://Example.COM:8443/a?b#c",
        "http://user:pass@Host.Example/",
        "http://[::1]:8080/x",
        "http://[fe80::1%25eth0]/",
        "http://[::1/broken",
        "http://a]b.example/",
        "http://[v1.fe]/",
        "http://h\t.example/",  # urlsplit deletes tabs and line breaks first
        "http://h.exam\nple/",
        "http://h.example/\r",
        "HTTP://UPPER.example/",
        " http://leading.space/",
        "http://",
        "http:///path",
        "https://?query",
        "http://#fragment",
        "http://host.example",
        "http://host.example?q",
        "http://exämple.test/päth",
        "http://" + "a" * 300 + ".example/",
        "mailto:someone@example.org",
        "",
    ]
    rng = random.Random(7)
    alphabet = "ab:/?#[]@%.\t\r\n AZ19-_ä"
    for _ in range(50_000):
        prefix = rng.choice(["http://", "https://", "HTTPS://", "http:/", "ftp://", ""])
        urls.append(prefix + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))))
    for url in urls + urls:  # the second time from the cache
        assert url_host(url) == _host_the_long_way(url), repr(url)
