"""The migrations build exactly the schema of service/store/tables.py, on both databases."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel, select

import service.store.tables  # noqa: F401
from service.errors import StoreError
from service.store.db import MIGRATIONS_DIR, Database, alembic_config, head_revision, open_database
from service.store.tables import ArticleRow

ROOT = Path(__file__).resolve().parents[2]


def schema_diff(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def _numbered_revisions() -> list[str]:
    names = sorted((MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    return [n.name[:4] for n in names]


HEAD = _numbered_revisions()[-1]


def test_head_is_the_highest_numbered_migration() -> None:
    assert head_revision() == HEAD


def test_migrated_schema_equals_the_models(db_url: str) -> None:
    db = open_database(db_url)
    try:
        assert db.current_revision() == HEAD
        assert schema_diff(db) == []
        tables = set(sa.inspect(db.engine).get_table_names())
        assert tables == set(SQLModel.metadata.tables) | {"alembic_version"}
    finally:
        db.dispose()


def test_the_schema_comparison_notices_a_difference(db_url: str) -> None:
    """Negative control: the no-diff assertion above can fail."""
    db = open_database(db_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP INDEX ix_links_host"))
        diff = schema_diff(db)
        assert [d[0] for d in diff if isinstance(d, tuple)] == ["add_index"]
    finally:
        db.dispose()


def test_upgrade_is_idempotent_and_keeps_data(db_url: str) -> None:
    db = open_database(db_url)
    try:
        with db.session() as s:
            s.add(ArticleRow(location="a.md"))
        db.upgrade()
        db.upgrade()
        assert db.current_revision() == HEAD
        with db.session() as s:
            assert [a.location for a in s.exec(select(ArticleRow))] == ["a.md"]
    finally:
        db.dispose()
    again = open_database(db_url)  # a restart: upgrade on start is a no-op
    try:
        assert again.current_revision() == HEAD
    finally:
        again.dispose()


def test_concurrent_upgrades_do_not_collide(db_url: str) -> None:
    """Several replicas (processes) starting at the same instant on an empty database."""
    start_at = time.time() + 2.5
    script = (
        "import sys, time\n"
        "from service.store.db import open_database\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "open_database(sys.argv[1]).dispose()\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, db_url, str(start_at)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    db = Database(db_url)
    try:
        assert db.current_revision() == HEAD
        assert schema_diff(db) == []
    finally:
        db.dispose()


def test_upgrades_from_threads_of_one_process(db_url: str) -> None:
    databases = [Database(db_url) for _ in range(3)]
    barrier = threading.Barrier(len(databases))
    errors: list[BaseException] = []

    def start(db: Database) -> None:
        barrier.wait()
        try:
            db.upgrade()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in databases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert {db.current_revision() for db in databases} == {HEAD}
    finally:
        for db in databases:
            db.dispose()


@pytest.mark.parametrize("built_by", ["open_database", "migrations"])
def test_downgrade_to_base_and_upgrade_again(db_url: str, built_by: str) -> None:
    """Reversible whichever road built the schema: open_database creates an empty database
    from the metadata (create_all), the migrations build it step by step; on SQLite the 0003
    downgrade edits the stored CREATE TABLE text, which the two roads spell differently."""
    if built_by == "open_database":
        db = open_database(db_url)
    else:
        db = Database(db_url)
        with db.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
    try:
        with db.engine.connect() as conn:
            command.downgrade(alembic_config(conn), "base")
            conn.commit()
        assert set(sa.inspect(db.engine).get_table_names()) == {"alembic_version"}
        assert db.current_revision() is None
        db.upgrade()
        assert schema_diff(db) == []
    finally:
        db.dispose()


def test_a_schema_newer_than_the_code_is_refused(db_url: str) -> None:
    db = open_database(db_url)
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    db.dispose()
    with pytest.raises(StoreError, match=rf"revision 9999, newer than this linkwatch.*head {HEAD}"):
        open_database(db_url)
