"""Store fixtures: an open, migrated database on each backend, and article builders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from service.model import Article, ArticleMeta, LinkKind, Occurrence
from service.store.db import Database, open_database

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def pg_db(pg_server: str) -> Iterator[Database]:
    """A PostgreSQL database with an empty public schema, opened (migrated) afresh: tests
    that force plans or read pg_stat counters need no rows of other tests."""
    engine = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    database = open_database(pg_server)
    try:
        yield database
    finally:
        database.dispose()  # the connection with any forced generic plans goes too


def occ(
    position: int,
    url: str | None,
    anchor: str = "",
    *,
    kind: LinkKind = LinkKind.HTTP,
    href: str | None = None,
    line: int = 1,
) -> Occurrence:
    """An occurrence; `href` defaults to the URL (or '#' for a placeholder)."""
    return Occurrence(
        href=href if href is not None else (url or "#"),
        anchor_text=anchor,
        line=line,
        kind=kind,
        url=url,
        position=position,
    )


def article(
    location: str,
    *occurrences: Occurrence,
    published: date | None = None,
    title: str | None = "A title",
    source_url: str | None = None,
) -> Article:
    return Article(
        location=location,
        format="markdown",
        meta=ArticleMeta(title=title, published=published, source_url=source_url),
        occurrences=tuple(occurrences),
    )
