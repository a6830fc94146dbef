"""An empty database gets its schema from the metadata, identical to the migrations' schema.

`open_database` on an empty database runs `metadata.create_all` and writes `alembic_version`
itself instead of importing Alembic and replaying every migration. That shortcut is only
right while both roads end at the same schema, so each test here builds the schema both ways
on the same server and compares everything SQLAlchemy's inspector reflects: tables and views,
columns in order (type, nullability, default, autoincrement, identity), primary keys, indexes
(columns, uniqueness, options), unique constraints, foreign keys, check constraints, table
options and sequences, and the stamped revision.

One difference is known and allowed, on SQLite only (`_name_inline_foreign_keys`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from service.store.db import Database, alembic_config, head_revision, open_database

ROOT = Path(__file__).resolve().parents[2]
HEAD = head_revision()
OLDER = ["0001", "0002"]

# Prints whether opening the database imported Alembic (so which road built the schema).
_OPEN_IN_A_NEW_PROCESS = (
    "import sys\n"
    "from service.store.db import open_database\n"
    "open_database(sys.argv[1]).dispose()\n"
    "print('alembic' in sys.modules)\n"
)

Schema = dict[str, Any]


def _by_name(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: str(item.get("name")))


def _columns(inspector: sa.Inspector, table: str, dialect: sa.Dialect) -> list[dict[str, Any]]:
    """The columns in table order, each type compiled to its DDL text (types have no ==)."""
    return [
        {
            key: value.compile(dialect=dialect) if key == "type" else value
            for key, value in c.items()
        }
        for c in inspector.get_columns(table)
    ]


def describe(engine: sa.Engine) -> Schema:
    """Everything the inspector knows of the database's schema, as plain comparable data."""
    inspector = sa.inspect(engine)
    dialect = engine.dialect
    schema: Schema = {"views": sorted(inspector.get_view_names())}
    if dialect.name == "postgresql":
        schema["sequences"] = sorted(inspector.get_sequence_names())
    for table in sorted(inspector.get_table_names()):
        schema[table] = {
            "columns": _columns(inspector, table, dialect),
            "primary_key": inspector.get_pk_constraint(table),
            "indexes": _by_name(inspector.get_indexes(table)),
            "unique": _by_name(inspector.get_unique_constraints(table)),
            "foreign_keys": _by_name(inspector.get_foreign_keys(table)),
            "checks": _by_name(inspector.get_check_constraints(table)),
            "options": inspector.get_table_options(table),
        }
    with engine.connect() as conn:
        if "alembic_version" in schema:
            schema["revision"] = conn.execute(sa.text("SELECT * FROM alembic_version")).all()
    return schema


def differences(expected: Schema, actual: Schema) -> list[str]:
    """One readable line per table section (or top-level entry) that differs."""
    lines: list[str] = []
    for key in sorted(set(expected) | set(actual)):
        want, got = expected.get(key), actual.get(key)
        if isinstance(want, dict) and isinstance(got, dict):
            for section in sorted(set(want) | set(got)):
                if want.get(section) != got.get(section):
                    lines.append(f"{key}.{section}: {want.get(section)!r} != {got.get(section)!r}")
        elif want != got:
            lines.append(f"{key}: {want!r} != {got!r}")
    return lines


# Migration 0003 adds articles.source_id with ALTER TABLE on SQLite, which spells its foreign
# key inline (`source_id INTEGER CONSTRAINT fk_... REFERENCES sources (id)`); SQLAlchemy's
# SQLite reflection reads no name from that spelling, while create_all writes a table
# constraint whose name it reads. Same constraint, same enforcement; only the name is unseen.
SQLITE_INLINE_FOREIGN_KEYS = {("articles", ("source_id",)): "fk_articles_source_id_sources"}


def _name_inline_foreign_keys(schema: Schema) -> Schema:
    """`schema` (built by the migrations on SQLite) with the unreadable inline names filled in.

    Fails when such a key is not found unnamed, so the allowance goes once the cause does.
    """
    for (table, columns), name in SQLITE_INLINE_FOREIGN_KEYS.items():
        keys = schema[table]["foreign_keys"]
        unnamed = [fk for fk in keys if fk["constrained_columns"] == list(columns)]
        assert [fk["name"] for fk in unnamed] == [None], (table, unnamed)
        unnamed[0]["name"] = name
        schema[table]["foreign_keys"] = _by_name(keys)
    return schema


def wipe(engine: sa.Engine) -> None:
    """Drop every table (Alembic's too), leaving an empty database for the other road."""
    meta = sa.MetaData()
    with engine.begin() as conn:
        meta.reflect(conn)
        meta.drop_all(conn)
    assert sa.inspect(engine).get_table_names() == []


def migrate(db: Database, revision: str) -> None:
    """Run the migrations from the empty database up to `revision` (Alembic, no shortcut)."""
    with db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def open_in_new_process(url: str) -> bool:
    """`open_database(url)` in a fresh interpreter; whether that imported Alembic."""
    done = subprocess.run(
        [sys.executable, "-c", _OPEN_IN_A_NEW_PROCESS, url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() == "True"


def test_an_empty_database_gets_the_migrated_schema_without_alembic(db_url: str) -> None:
    db = Database(db_url)
    try:
        migrate(db, "head")
        migrated = describe(db.engine)
        wipe(db.engine)
        assert open_in_new_process(db_url) is False, "the empty database was migrated"
        created = describe(db.engine)
    finally:
        db.dispose()
    assert migrated["revision"] == [(HEAD,)]
    if db.dialect == "sqlite":
        migrated = _name_inline_foreign_keys(migrated)
    assert differences(migrated, created) == []


@pytest.mark.parametrize("start", OLDER)
def test_an_older_database_is_upgraded_by_alembic_to_the_same_schema(
    db_url: str, start: str
) -> None:
    db = Database(db_url)
    try:
        assert open_in_new_process(db_url) is False
        created = describe(db.engine)
        wipe(db.engine)
        migrate(db, start)
        assert open_in_new_process(db_url) is True, "an older database needs Alembic"
        upgraded = describe(db.engine)
    finally:
        db.dispose()
    if db.dialect == "sqlite":
        upgraded = _name_inline_foreign_keys(upgraded)
    assert differences(created, upgraded) == []


def test_a_database_with_any_table_is_left_to_alembic(db_url: str) -> None:
    """Not empty (one unrelated table): no shortcut; Alembic adds our tables next to it."""
    db = Database(db_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE someone_elses (x INTEGER)"))
        assert open_in_new_process(db_url) is True
        assert db.current_revision() == HEAD
        assert "someone_elses" in sa.inspect(db.engine).get_table_names()
    finally:
        db.dispose()


# Each change must show up in exactly these entries of the description (negative controls).
_CHANGES_BOTH = [
    ("DROP INDEX ix_links_host", {"links.indexes"}),
    ("CREATE UNIQUE INDEX ix_workers_hostname ON workers (hostname)", {"workers.indexes"}),
    ("ALTER TABLE monitor_state ADD COLUMN note TEXT", {"monitor_state.columns"}),
    ("CREATE VIEW dead AS SELECT id FROM links", {"views"}),
    ("UPDATE alembic_version SET version_num = '0002'", {"revision"}),
]
_CHANGES_POSTGRES = [
    ("ALTER TABLE links ALTER COLUMN host DROP NOT NULL", {"links.columns"}),
    ("ALTER TABLE links ALTER COLUMN dead_streak SET DEFAULT 0", {"links.columns"}),
    ("ALTER TABLE links ALTER COLUMN host TYPE VARCHAR(200)", {"links.columns"}),
    ("ALTER TABLE links ADD CONSTRAINT ck_links_streak CHECK (dead_streak >= 0)", {"links.checks"}),
    ("ALTER TABLE checks DROP CONSTRAINT fk_checks_link_id_links", {"checks.foreign_keys"}),
    (
        "ALTER TABLE snapshots DROP CONSTRAINT uq_snapshots_link_role",
        {"snapshots.unique", "snapshots.indexes"},  # its index goes with it
    ),
    ("ALTER TABLE workers DROP CONSTRAINT pk_workers", {"workers.primary_key"}),
    ("CREATE SEQUENCE stray_seq", {"sequences"}),
]
_EXTRA = "CREATE TABLE extra (id INTEGER CONSTRAINT pk_extra PRIMARY KEY, link_id INTEGER, {})"
_CHANGES_SQLITE = [  # SQLite alters little in place: `extra` is rebuilt with one change each
    (_EXTRA.format("n INTEGER DEFAULT 3 NOT NULL, CONSTRAINT ck_extra_n CHECK (n > 0)"), {"extra"}),
    (
        "DROP TABLE extra; "
        + _EXTRA.format("n INTEGER DEFAULT 4 NOT NULL, CONSTRAINT ck_extra_n CHECK (n > 0)"),
        {"extra.columns"},
    ),
    (
        "DROP TABLE extra; "
        + _EXTRA.format("n INTEGER DEFAULT 4, CONSTRAINT ck_extra_n CHECK (n > 0)"),
        {"extra.columns"},
    ),
    (
        "DROP TABLE extra; "
        + _EXTRA.format("n INTEGER DEFAULT 4, CONSTRAINT ck_extra_n CHECK (n > 1)"),
        {"extra.checks"},
    ),
    (
        "DROP TABLE extra; "
        + _EXTRA.format(
            "n INTEGER DEFAULT 4, CONSTRAINT ck_extra_n CHECK (n > 1), "
            "CONSTRAINT uq_extra_n UNIQUE (n)"
        ),
        {"extra.unique"},
    ),
    (
        "DROP TABLE extra; "
        + _EXTRA.format(
            "n INTEGER DEFAULT 4, CONSTRAINT ck_extra_n CHECK (n > 1), "
            "CONSTRAINT uq_extra_n UNIQUE (n), "
            "CONSTRAINT fk_extra_link_id_links FOREIGN KEY(link_id) REFERENCES links (id)"
        ),
        {"extra.foreign_keys"},
    ),
]


def test_the_comparison_notices_each_kind_of_difference(db_url: str) -> None:
    db = open_database(db_url)
    try:
        changes = _CHANGES_BOTH + (
            _CHANGES_POSTGRES if db.dialect == "postgresql" else _CHANGES_SQLITE
        )
        before = describe(db.engine)
        for statement, expected in changes:
            with db.engine.begin() as conn:
                for one in statement.split("; "):
                    conn.execute(sa.text(one))
            after = describe(db.engine)
            found = differences(before, after)
            assert {line.split(":", 1)[0] for line in found} == expected, (statement, found)
            before = after
    finally:
        db.dispose()
