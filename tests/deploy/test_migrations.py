"""Upgrades: every migration, applied one at a time to a database that holds data, loses nothing.

At each revision from the first one to head, rows are inserted into every table that exists
then (values generated from the reflected columns, foreign keys pointing at rows inserted
just before), the database is upgraded ONE revision, and every row seen before must still be
there with the same values in every column that still exists. New migrations are covered
automatically. A migration that transforms data on purpose must say so here (EXPECTED_CHANGES).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from service.store.db import Database, alembic_config, head_revision

# {revision: {(table, column), ...}} whose values that revision rewrites on purpose.
EXPECTED_CHANGES: dict[str, set[tuple[str, str]]] = {}

_counter = itertools.count(1)


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


def _value(column: sa.Column[Any], n: int, parents: dict[str, Any]) -> Any:
    for fk in column.foreign_keys:
        return parents[fk.column.table.name]
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return n % 2 == 0
    if isinstance(kind, sa.Integer):
        return n
    if isinstance(kind, sa.Float | sa.Numeric):
        return n + 0.25
    if isinstance(kind, sa.DateTime):
        return datetime(2020, 1, 1, 12, 0, 0) + timedelta(minutes=n)
    if isinstance(kind, sa.Date):
        return date(2020, 1, 1) + timedelta(days=n)
    length = getattr(kind, "length", None) or 64
    return f"v{n}-é"[: max(length, 1)]


def insert_everywhere(conn: sa.Connection) -> None:
    """One new row in every table (parents first), every column filled."""
    meta = sa.MetaData()
    meta.reflect(conn)
    parents: dict[str, Any] = {}
    for table in meta.sorted_tables:
        if table.name == "alembic_version":
            continue
        n = next(_counter)
        row = {c.name: _value(c, n, parents) for c in table.columns}
        conn.execute(table.insert().values(row))
        pk = list(table.primary_key.columns)
        if len(pk) == 1:
            parents[table.name] = row[pk[0].name]


def snapshot(conn: sa.Connection) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """Every row of every table, keyed by primary key."""
    meta = sa.MetaData()
    meta.reflect(conn)
    out: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for table in meta.sorted_tables:
        if table.name == "alembic_version":
            continue
        pk = [c.name for c in table.primary_key.columns]
        rows = conn.execute(sa.select(table)).mappings()
        out[table.name] = {tuple(r[k] for k in pk): dict(r) for r in rows}
    return out


def _lost(before: dict[str, Any], after: dict[str, Any], revision: str) -> Iterator[str]:
    for table, rows in before.items():
        if table not in after:
            yield f"{revision}: table {table} dropped with {len(rows)} rows"
            continue
        for key, row in rows.items():
            new = after[table].get(key)
            if new is None:
                yield f"{revision}: {table} row {key} lost"
                continue
            for column, value in row.items():
                expected = (table, column) in EXPECTED_CHANGES.get(revision, set())
                if column in new and new[column] != value and not expected:
                    yield f"{revision}: {table}.{column} of row {key}: {value!r} -> {new[column]!r}"


def test_every_migration_keeps_the_data(db_url: str) -> None:
    steps = revisions()
    assert steps[0] == "0001" and steps[-1] == head_revision()
    db = Database(db_url)
    try:
        with db.engine.begin() as conn:
            command.upgrade(alembic_config(conn), steps[0])
        for step, nxt in zip(steps, [*steps[1:], None], strict=True):
            with db.engine.begin() as conn:
                insert_everywhere(conn)
                before = snapshot(conn)
            assert all(before.values()), "every table holds data before the upgrade"
            if nxt is None:
                db.upgrade()  # at head: the daemon's own upgrade path must be a no-op
            else:
                _upgrade_to(db, nxt)
            with db.engine.connect() as conn:
                after = snapshot(conn)
            problems = list(_lost(before, after, nxt or f"{step} (head)"))
            assert problems == []
        assert db.current_revision() == head_revision()
    finally:
        db.dispose()


def _upgrade_to(db: Database, revision: str) -> None:
    with db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def test_head_schema_accepts_the_models(db_url: str) -> None:
    """After every migration the ORM models' tables and columns all exist."""
    from sqlmodel import SQLModel

    import service.store.tables  # noqa: F401

    db = Database(db_url)
    try:
        db.upgrade()
        inspector = sa.inspect(db.engine)
        for table in SQLModel.metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            assert {c.name for c in table.columns} <= columns, table.name
    finally:
        db.dispose()


def test_the_comparison_notices_losses() -> None:
    before = {
        "links": {(1,): {"id": 1, "url": "a"}, (2,): {"id": 2, "url": "b"}},
        "checks": {(1,): {"id": 1}},
    }
    after = {"links": {(1,): {"id": 1, "url": "A", "new_column": 3}}}
    assert sorted(_lost(before, after, "0002")) == [
        "0002: links row (2,) lost",
        "0002: links.url of row (1,): 'a' -> 'A'",
        "0002: table checks dropped with 1 rows",
    ]
    EXPECTED_CHANGES["0002"] = {("links", "url")}
    try:
        assert len(list(_lost(before, after, "0002"))) == 2
    finally:
        del EXPECTED_CHANGES["0002"]
