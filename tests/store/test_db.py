"""Opening databases: URL handling, SQLite settings, sessions, errors without passwords."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from service.errors import StoreError
from service.store.db import Database, mask_url, normalize_url, open_database
from service.store.tables import ArticleRow, LinkRow, OccurrenceRow


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgres://u:p@db.example:5432/lw", "postgresql+psycopg"),
        ("postgresql://u:p@db.example/lw", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db.example/lw", "postgresql+psycopg"),
        ("sqlite:///data/linkwatch.db", "sqlite"),
    ],
)
def test_database_urls_select_the_driver(given: str, driver: str) -> None:
    assert normalize_url(given).drivername == driver


@pytest.mark.parametrize(
    "url", ["mysql://lw:hunter2@db.example/lw", "not a url at all ::", "oracle://lw:hunter2@x/y"]
)
def test_unusable_urls_are_refused_without_the_password(url: str) -> None:
    with pytest.raises(StoreError) as info:
        Database(url)
    message = str(info.value)
    assert "hunter2" not in message
    assert "\n" not in message


def test_mask_url_hides_passwords_even_in_unparsable_urls() -> None:
    assert mask_url("postgresql://lw:s3cr%40t@h:5/db") == "postgresql://lw:***@h:5/db"
    assert "s3cret" not in mask_url("weird+x://lw:s3cret@h/db?x=[")


def test_unreachable_postgresql_is_a_one_line_store_error_without_password() -> None:
    with pytest.raises(StoreError) as info:
        open_database("postgresql://linkwatch:hunter2@127.0.0.1:1/linkwatch")
    message = str(info.value)
    assert "hunter2" not in message
    assert "linkwatch:***@127.0.0.1:1" in message
    assert "refused" in message.lower()
    assert "\n" not in message
    assert info.value.exit_code == 4


def test_sqlite_under_a_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create the directory") as info:
        open_database(f"sqlite:///{blocker}/sub/linkwatch.db")
    assert "\n" not in str(info.value)


def test_sqlite_path_that_is_a_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        open_database(f"sqlite:///{tmp_path}")


def test_sqlite_file_that_is_no_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="file is not a database") as info:
        open_database(f"sqlite:///{path}")
    assert "\n" not in str(info.value)


def test_read_only_sqlite_file_is_a_store_error_on_write(tmp_path: Path) -> None:
    path = tmp_path / "lw.db"
    open_database(f"sqlite:///{path}").dispose()
    ro = open_database(
        f"sqlite:///{path}?mode=ro&uri=true".replace("sqlite:///", "sqlite:///file:")
    )
    try:
        with pytest.raises(StoreError, match=r"readonly|read-only|read only"), ro.session() as s:
            s.add(ArticleRow(location="x.md"))
    finally:
        ro.dispose()


def test_sqlite_creates_its_directory_and_runs_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dirs" / "linkwatch.db"
    db = open_database(f"sqlite:///{path}")
    try:
        assert path.exists()
        assert db.dialect == "sqlite"
        with db.engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
        assert pragma == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 15000,
            "synchronous": 1,
        }
    finally:
        db.dispose()


def test_in_memory_sqlite_keeps_one_database(sqlite_url: str) -> None:
    db = open_database("sqlite://")
    try:
        with db.session() as s:
            s.add(ArticleRow(location="m.md"))
        with db.session() as s:
            assert s.exec(select(ArticleRow.location)).all() == ["m.md"]
    finally:
        db.dispose()


@pytest.mark.postgres
def test_postgres_scheme_aliases_reach_the_server(pg_server: str) -> None:
    rest = pg_server.split("://", 1)[1]
    for scheme in ("postgres", "postgresql"):
        db = open_database(f"{scheme}://{rest}", upgrade=False)
        try:
            assert db.dialect == "postgresql"
            assert db.engine.url.drivername == "postgresql+psycopg"
        finally:
            db.dispose()


def test_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    with db.session() as s:
        s.add(ArticleRow(location="kept.md"))
    with pytest.raises(RuntimeError), db.session() as s:
        s.add(ArticleRow(location="dropped.md"))
        s.flush()
        raise RuntimeError("boom")
    with db.session() as s:
        assert s.exec(select(ArticleRow.location)).all() == ["kept.md"]


def test_objects_stay_usable_after_the_session(db: Database) -> None:
    with db.session() as s:
        row = ArticleRow(location="a.md", title="Title")
        s.add(row)
    assert row.id is not None
    assert row.title == "Title"


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(sa.exc.IntegrityError), db.session() as s:
        s.add(OccurrenceRow(article_id=999, href="#", kind="placeholder"))


def test_datetimes_come_back_aware_utc(db: Database) -> None:
    paris = timezone(timedelta(hours=2))
    seen = datetime(2026, 3, 1, 14, 30, tzinfo=paris)
    with db.session() as s:
        s.add(LinkRow(url="https://e.org/", url_hash="h" * 64, host="e.org", first_seen_at=seen))
    with db.session() as s:
        link = s.exec(select(LinkRow)).one()
    assert link.first_seen_at is not None
    assert link.first_seen_at.tzinfo is UTC
    assert link.first_seen_at == seen
    assert link.first_seen_at.hour == 12


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), db.session() as s:
        s.add(
            LinkRow(
                url="https://e.org/",
                url_hash="h" * 64,
                host="e.org",
                first_seen_at=datetime(2026, 1, 1),
            )
        )
