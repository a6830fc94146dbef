"""Opening the database: engines for SQLite and PostgreSQL, sessions, and schema migrations.

    db = open_database(settings.database.url)   # migrates to the newest schema on first use
    with db.session() as session:               # commits on success, rolls back on error
        ...

SQLite (the default, `sqlite:///data/linkwatch.db`) runs in WAL mode with foreign keys on;
PostgreSQL URLs (`postgresql://` or `postgres://`) use the psycopg 3 driver. Every failure
to reach or use the database becomes a one-line `StoreError` whose text never holds a password.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import (
    URL,
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from service.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# Alembic (with mako, pygments...) is imported only when a migration may really be needed:
# every command opens the database, and a database already at the head is told apart by
# `_fast_head` (the migration files' revision lines) and one query of `alembic_version`.
# An empty database is not migrated either: it gets the tables' metadata (`create_all`) and
# is stamped at the head by hand (tests/store/test_fresh_schema.py proves both schemas equal).

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DEFAULT_URL = "sqlite:///data/linkwatch.db"
SQLITE_BUSY_TIMEOUT_MS = 15_000
PG_CONNECT_TIMEOUT_S = 10
# pg_advisory_xact_lock key serialising schema upgrades of replicas sharing one database.
MIGRATION_LOCK_KEY = int.from_bytes(b"LWmigrat", "big") & 0x7FFF_FFFF_FFFF_FFFF

Dialect = Literal["sqlite", "postgresql"]

# Alembic's `context` is process-global: one migration command at a time in this process.
_ALEMBIC_LOCK = threading.RLock()

_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by `***` (also for URLs that do not parse)."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return _PASSWORD_IN_URL.sub(r"\1***@", url)


def normalize_url(url: str) -> URL:
    """Parse a database URL; `postgres://` and `postgresql://` select the psycopg 3 driver.

    Raises StoreError for a malformed URL or a database other than SQLite and PostgreSQL.
    """
    try:
        parsed = make_url(url.strip())
    except (sa_exc.ArgumentError, ValueError) as exc:
        raise StoreError(
            f"invalid database URL {mask_url(url)!r}: expected sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST:PORT/DBNAME"
        ) from exc
    if parsed.drivername in {"postgres", "postgresql"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername.startswith("postgres+"):
        parsed = parsed.set(drivername="postgresql+" + parsed.drivername.split("+", 1)[1])
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise StoreError(
            f"unsupported database URL {mask_url(parsed)!r}: use sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST:PORT/DBNAME"
        )
    return parsed


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration built in code (no alembic.ini): our migrations, on `connection`."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


_REVISION_LINE = re.compile(
    r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:"([^"]*)"|'([^']*)'|None)""", re.M
)


@functools.cache
def _fast_head() -> str | None:
    """The head revision read from the migration files without Alembic; None when unsure.

    Only a shortcut: a database found at this revision needs no migration. Anything unusual
    (several heads, a branch, an unparsable file) answers None and Alembic decides.
    """
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = {m[0]: (m[1] or m[2] or None) for m in _REVISION_LINE.findall(path.read_text())}
        if "revision" not in found or "down_revision" not in found or not found["revision"]:
            return None
        revisions[str(found["revision"])] = found["down_revision"]
    parents = set(revisions.values())
    heads = [r for r in revisions if r not in parents]
    return heads[0] if len(heads) == 1 else None


def _stored_revision(conn: Connection, dialect: str) -> str | None:
    """The revision in `alembic_version` (None: no table or no row), by plain SQL."""
    if dialect == "postgresql":
        exists = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
    else:
        exists = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        ).scalar()
    if not exists:
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def _is_empty(conn: Connection, dialect: str) -> bool:
    """True when the database (PostgreSQL: its current schema) holds no table, view or sequence.

    Anything else, even one unrelated table, is left to Alembic: only a database nobody has
    used yet may skip the migrations. pg_class, unlike information_schema, also lists the
    relations this role may not read.
    """
    if dialect == "postgresql":
        count = conn.execute(
            text(
                "SELECT count(*) FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
            )
        ).scalar()
    else:
        count = conn.execute(
            text(
                "SELECT count(*) FROM sqlite_master "
                "WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
            )
        ).scalar()
    return count == 0


def _version_table() -> Table:
    """The `alembic_version` table exactly as Alembic creates it (MigrationContext)."""
    return Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )


def _create_at_head(conn: Connection, head: str) -> None:
    """Give an empty database the newest schema from the metadata and stamp it at `head`.

    Same result as running every migration (tests/store/test_fresh_schema.py) without
    importing Alembic or replaying history. `checkfirst=False`: a table that appeared anyway
    fails the transaction instead of mixing two schemas.
    """
    from sqlmodel import SQLModel

    import service.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

    SQLModel.metadata.create_all(conn, checkfirst=False)
    version = _version_table()
    version.create(conn, checkfirst=False)
    conn.execute(version.insert().values(version_num=head))


def head_revision() -> str | None:
    """The newest migration this code ships ("0001", ...)."""
    return _scripts().get_current_head()


def _sqlite_is_memory(url: URL) -> bool:
    database = url.database or ""
    return database in {"", ":memory:"} or "mode=memory" in database


def _sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory or URI-style (`file:...`) database."""
    database = url.database or ""
    if _sqlite_is_memory(url) or database.startswith("file:") or url.query.get("uri"):
        return None
    return Path(database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _command_error() -> type[Exception]:
    """alembic.util.CommandError when Alembic is loaded (it raised nothing otherwise)."""
    import sys

    module = sys.modules.get("alembic.util.exc")
    error: type[Exception] | None = getattr(module, "CommandError", None)
    return error if error is not None else _NeverRaised


class _NeverRaised(Exception):
    """Stands for CommandError in `except` clauses while Alembic is not imported."""


class Database:
    """One database: its engine, sessions and schema version."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url: URL = normalize_url(url)
        self.display_url: str = mask_url(self.url)
        self._password = self.url.password if isinstance(self.url.password, str) else None
        backend = self.url.get_backend_name()
        self.dialect: Dialect = "sqlite" if backend == "sqlite" else "postgresql"
        try:
            if self.dialect == "sqlite":
                self.engine: Engine = self._sqlite_engine(echo)
            else:
                self.engine = create_engine(
                    self.url,
                    echo=echo,
                    pool_pre_ping=True,
                    connect_args={
                        "connect_timeout": PG_CONNECT_TIMEOUT_S,
                        "application_name": "linkwatch",
                    },
                )
        except (ImportError, sa_exc.ArgumentError) as exc:
            raise self._error("cannot use database", exc) from exc

    def _sqlite_engine(self, echo: bool) -> Engine:
        path = _sqlite_file(self.url)
        if _sqlite_is_memory(self.url):  # one connection, or each would see its own database
            engine = create_engine(
                self.url,
                echo=echo,
                poolclass=StaticPool,
                connect_args={"check_same_thread": False},
            )
        elif path is None:
            engine = create_engine(self.url, echo=echo)
        else:
            parent = path.parent
            try:
                if parent.exists() and not parent.is_dir():
                    raise NotADirectoryError(20, "it is not a directory")
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the directory {str(parent)!r} for the database "
                    f"{self.display_url}: {exc.strerror or exc}"
                ) from exc
            if path.is_dir():
                raise StoreError(
                    f"cannot open database {self.display_url}: {str(path)!r} is a directory"
                )
            engine = create_engine(self.url, echo=echo)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine

    # -- errors ---------------------------------------------------------------------------

    def _error(self, what: str, exc: BaseException) -> StoreError:
        """A one-line StoreError for `exc`, with any password masked."""
        detail: Any = (
            exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
        )
        lines = [ln.strip() for ln in str(detail).splitlines() if ln.strip()]
        message = lines[0] if lines else type(detail).__name__
        if self._password:
            message = message.replace(self._password, "***")
        return StoreError(f"{what} {self.display_url}: {message}")

    # -- sessions -------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises.

        Objects stay usable after the block (expire_on_commit is off). Database-level failures
        (unreachable, locked, read-only, disk full) are raised as StoreError.
        """
        session = Session(self.engine, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sqlite3.OperationalError) as exc:
            session.rollback()
            raise self._error("database error on", exc) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except (sa_exc.DBAPIError, sqlite3.Error) as exc:
            raise self._error("cannot open database", exc) from exc

    def ping(self) -> None:
        """Connect once and run `SELECT 1`; StoreError when the database cannot be used."""
        with self._connect() as conn:
            try:
                conn.execute(text("SELECT 1"))
            except (sa_exc.DBAPIError, sqlite3.Error) as exc:
                raise self._error("cannot use database", exc) from exc

    # -- schema ---------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Apply every pending migration (safe on every start, and from several replicas at once).

        The whole upgrade runs in one transaction, serialised between processes: an advisory
        lock on PostgreSQL, `BEGIN IMMEDIATE` (the write lock) on SQLite. So when replicas
        start on an empty database, one creates the schema and the others then find it at
        the head. An empty database is created from the metadata (no Alembic import).
        """
        with _ALEMBIC_LOCK, self._connect() as conn:
            try:
                if self.dialect == "postgresql":
                    conn.execute(text("SET LOCAL lock_timeout = '300s'"))
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                else:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                fast = _fast_head()
                stored = _stored_revision(conn, self.dialect)
                if fast is not None and stored is None and _is_empty(conn, self.dialect):
                    _create_at_head(conn, fast)
                elif fast is None or stored != fast:
                    self._alembic_upgrade(conn)
                conn.commit()
            except (sa_exc.DBAPIError, sqlite3.Error, _command_error()) as exc:
                raise self._error("cannot migrate database", exc) from exc

    def _alembic_upgrade(self, conn: Connection) -> None:
        """Run the pending migrations on `conn` (already locked) with Alembic."""
        from alembic import command

        if self._known_revision(conn) != head_revision():
            command.upgrade(alembic_config(conn), "head")

    def _known_revision(self, conn: Connection) -> str | None:
        """The database's revision; StoreError when it is one this code does not ship."""
        from alembic.runtime.migration import MigrationContext
        from alembic.util import CommandError

        current: str | None = MigrationContext.configure(conn).get_current_revision()
        if current is None:
            return None
        try:
            _scripts().get_revision(current)
        except CommandError:
            raise StoreError(
                f"the database {self.display_url} has schema revision {current}, newer than this "
                f"linkwatch knows (head {head_revision()}); upgrade linkwatch"
            ) from None
        return current

    def current_revision(self) -> str | None:
        """The schema revision the database is at (None for an empty database)."""
        from alembic.runtime.migration import MigrationContext

        with self._connect() as conn:
            try:
                revision: str | None = MigrationContext.configure(conn).get_current_revision()
                return revision
            except (sa_exc.DBAPIError, sqlite3.Error) as exc:
                raise self._error("cannot read the schema revision of", exc) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"


def open_database(url: str = DEFAULT_URL, *, upgrade: bool = True, echo: bool = False) -> Database:
    """Open the database at `url`, migrated to the newest schema unless `upgrade=False`.

    Raises StoreError (one line, password masked) when it cannot be reached or used.
    """
    db = Database(url, echo=echo)
    try:
        if upgrade:
            db.upgrade()
        else:
            db.ping()
    except BaseException:
        db.dispose()
        raise
    return db
