"""`linkwatch export` / `linkwatch import`: history survives SQLite -> PostgreSQL -> SQLite."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.cli.app import run
from service.errors import InputError, StoreError
from service.store.db import Database, open_database
from service.store.exchange import EXPORT_TABLES, export_jsonl, export_rows, import_jsonl
from service.store.tables import ArticleRow, CheckRow, LinkRow
from tests.conftest import _reset_pg
from tests.deploy.history import T0, fill


def _export(db: Database, since: datetime | None = None) -> str:
    buf = io.StringIO()
    export_jsonl(db, buf, since)
    return buf.getvalue()


@pytest.fixture
def filled(sqlite_url: str) -> Database:
    db = open_database(sqlite_url)
    fill(db)
    return db


@pytest.fixture
def empty_pg(pg_server: str) -> str:
    _reset_pg(pg_server)
    return pg_server


def _tables(text: str) -> list[str]:
    return [json.loads(line)["table"] for line in text.splitlines()]


def test_export_is_ordered_and_complete(filled: Database) -> None:
    text = _export(filled)
    names = _tables(text)
    order = [t.name for t in EXPORT_TABLES]
    assert names == sorted(names, key=order.index)  # parents before children
    assert set(names) == set(order)  # every table of the history has rows here
    assert "workers" not in names and "monitor_state" not in names
    assert json.loads(text.splitlines()[0])["table"] == "sources"  # articles refer to them
    first = next(r for r in map(json.loads, text.splitlines()) if r["table"] == "articles")
    assert first == {"table": "articles", "row": first["row"]}
    assert first["row"]["added_at"] == "2024-03-01T08:30:15.123456+00:00"
    assert first["row"]["published"] == "2018-05-26"
    assert _export(filled) == text  # deterministic


@pytest.mark.postgres
def test_round_trip_sqlite_postgres_sqlite(filled: Database, empty_pg: str, tmp_path: Path) -> None:
    original = _export(filled)

    pg = open_database(empty_pg)
    try:
        counts = import_jsonl(pg, io.StringIO(original), "history.jsonl")
        assert sum(counts.values()) == len(original.splitlines())
        assert _export(pg) == original
        # Sequences were moved past the imported ids: new rows get fresh ids.
        with pg.session() as session:
            max_check = session.exec(sa.select(sa.func.max(CheckRow.id))).one()[0]  # type: ignore[call-overload]
            article = ArticleRow(location="posts/new.md", added_at=datetime.now(UTC))
            session.add(article)
            link = session.get(LinkRow, 1)
            assert link is not None
            check = CheckRow(link_id=1, checked_at=datetime.now(UTC), outcome="ok")
            session.add(check)
            session.flush()
            assert article.id == 3
            assert check.id == max_check + 1
            session.rollback()
    finally:
        pg.dispose()

    back = open_database(f"sqlite:///{tmp_path / 'back.db'}")
    import_jsonl(back, io.StringIO(original))
    assert _export(back) == original


def test_import_refuses_a_database_holding_data(filled: Database, db_url: str) -> None:
    text = _export(filled)
    target = open_database(db_url)
    try:
        import_jsonl(target, io.StringIO(text))
        with pytest.raises(
            StoreError,
            match=r"is not empty: sources \(1 rows\), articles \(2 rows\), links \(3 rows\)",
        ):
            import_jsonl(target, io.StringIO(text))
        assert _export(target) == text  # untouched
    finally:
        target.dispose()


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", r"history.jsonl:3: not JSON"),
        ('{"table": "links"}', r'history.jsonl:3: expected \{"table": \.\.\., "row": \{\.\.\.\}\}'),
        ('{"table": "users", "row": {}}', r"history.jsonl:3: unknown table 'users'"),
        (
            '{"table": "articles", "row": {"id": 9, "location": "x", "colour": "red"}}',
            r"history.jsonl:3: unknown column\(s\) colour in 'articles'",
        ),
        (
            '{"table": "articles", "row": {"id": 9, "location": "x"}}',
            r"history.jsonl:3: articles.format is missing",
        ),
        ("BAD_DATE", r"history.jsonl:3: articles.added_at: bad value 'yesterday'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    filled: Database, tmp_path: Path, bad_line: str, message: str
) -> None:
    lines = _export(filled).splitlines()
    if bad_line == "BAD_DATE":
        record = next(r for r in map(json.loads, lines) if r["table"] == "articles")
        record["row"].update(id=9, location="x", added_at="yesterday")
        bad_line = json.dumps(record)
    text = "\n".join([*lines[:2], bad_line, *lines[2:]]) + "\n"
    target = open_database(f"sqlite:///{tmp_path / 't.db'}")
    with pytest.raises(InputError, match=message):
        import_jsonl(target, io.StringIO(text), "history.jsonl")
    assert _export(target) == ""


def test_rows_refused_by_the_database_roll_back(filled: Database, db_url: str) -> None:
    """Checks of links absent from the file: the foreign key refuses them, nothing stays."""
    lines = [
        ln
        for ln in _export(filled).splitlines()
        if json.loads(ln)["table"] in {"sources", "articles", "checks"}
    ]
    target = open_database(db_url)
    try:
        with pytest.raises(StoreError, match=r"rows of 'checks' refused by the database"):
            import_jsonl(target, io.StringIO("\n".join(lines)), "partial.jsonl")
        assert _export(target) == ""
    finally:
        target.dispose()


def test_since_keeps_recent_history_and_what_it_references(filled: Database, db_url: str) -> None:
    since = datetime(2024, 3, 4, tzinfo=UTC)
    assert since > T0
    full = [json.loads(line) for line in _export(filled).splitlines()]
    part = [json.loads(line) for line in _export(filled, since).splitlines()]
    by_table = lambda rows, name: [r["row"] for r in rows if r["table"] == name]  # noqa: E731
    assert by_table(part, "articles") == by_table(full, "articles")
    assert by_table(part, "links") == by_table(full, "links")
    recent = [c for c in by_table(full, "checks") if c["checked_at"] >= since.isoformat()]
    kept_checks = {c["id"] for c in by_table(part, "checks")}
    assert {c["id"] for c in recent} <= kept_checks
    assert len(kept_checks) < len(by_table(full, "checks"))
    assert all(d["day"] >= "2024-03-04" for d in by_table(part, "check_daily"))
    # Every reference of the partial export resolves inside it: it imports (foreign keys on).
    for t in by_table(part, "transitions"):
        assert t["check_id"] is None or t["check_id"] in kept_checks
    target = open_database(db_url)
    try:
        text = "\n".join(json.dumps(r) for r in part)
        counts = import_jsonl(target, io.StringIO(text))
        assert counts["checks"] == len(kept_checks)
    finally:
        target.dispose()


def test_cli_export_then_import_through_files_and_stdin(
    filled: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source_url = str(filled.url.render_as_string(hide_password=False))
    assert run(["export", "--database", source_url]) == 0
    out, err = capsys.readouterr()
    assert out == _export(filled)
    assert re.search(r"exported \d+ rows from sqlite", err)

    dump = tmp_path / "history.jsonl"
    assert (
        run(["export", "--database", source_url, "--output", str(dump), "--since", "2024-03-04"])
        == 0
    )
    capsys.readouterr()
    assert dump.read_text() == _export(filled, datetime(2024, 3, 4, tzinfo=UTC))

    target = f"sqlite:///{tmp_path / 'new.db'}"
    monkeypatch.setattr("sys.stdin", io.StringIO(out))
    assert run(["import", "--database", target]) == 0
    assert capsys.readouterr().out.startswith(f"imported {len(out.splitlines())} rows into sqlite")
    assert run(["import", "--database", target, str(dump)]) == 4
    assert "is not empty" in capsys.readouterr().err
    assert run(["import", "--database", target, str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: cannot read: No such file or directory" in capsys.readouterr().err
    assert run(["export", "--database", source_url, "--since", "March"]) == 2
    assert "--since: 'March' is not a date" in capsys.readouterr().err


@pytest.mark.postgres
def test_export_streams_from_a_server_side_cursor(empty_pg: str) -> None:
    """On PostgreSQL rows come through DECLARE/FETCH in batches, not one result in memory."""
    db = open_database(empty_pg)
    try:
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO links (id, url, url_hash, host, health, dead_streak, retired, "
                    "ignored) VALUES (1, 'https://e.org/', 'h', 'e.org', 'alive', 0, false, false)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO checks (link_id, checked_at, outcome, redirect_chain, latency_ms) "
                    "SELECT 1, now(), 'ok', '[]', g FROM generate_series(1, 3000) g"
                )
            )
        seen: list[str] = []
        with db.engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            rows = export_rows(conn)
            for name, _ in rows:
                if name == "checks":
                    break
            watcher = sa.create_engine(empty_pg)
            with watcher.connect() as other:
                seen.append(
                    other.execute(
                        sa.text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                    ).scalar_one()
                )
            watcher.dispose()
            assert sum(1 for name, _ in rows if name == "checks") == 2999
        assert re.match(r"\s*(DECLARE|FETCH)", seen[0], re.IGNORECASE), seen
    finally:
        db.dispose()


def test_export_covers_every_history_table_parents_first() -> None:
    """A table added to the schema must be exported (or named as runtime state)."""
    from sqlmodel import SQLModel

    from service.store.exchange import EXPORT_TABLES, RUNTIME_TABLES

    names = [t.name for t in EXPORT_TABLES]
    assert set(names) == {t.name for t in SQLModel.metadata.tables.values()} - RUNTIME_TABLES
    for i, table in enumerate(EXPORT_TABLES):
        for fk in table.foreign_keys:
            assert names.index(fk.column.table.name) < i, (table.name, fk.column.table.name)
