"""Export and import the whole history as JSON lines: backups, and moving SQLite -> PostgreSQL.

Each line is `{"table": NAME, "row": {column: value}}`; tables come in dependency order
(EXPORT_TABLES) and rows in primary-key order, so two exports of the same data are identical
byte for byte. Datetimes are ISO 8601 in UTC (`2024-05-01T12:00:00+00:00`), dates `YYYY-MM-DD`.
Both directions stream: rows are read with a server-side cursor (`yield_per`) and written in
batches, so memory stays constant whatever the size of the history.

The heartbeats (`workers`) and the monitor's small state (`monitor_state`) are not history and
are not exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, TextIO

from sqlalchemy import Column, Connection, Date, Table, func, or_, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql.elements import ColumnElement

from service.errors import InputError, StoreError
from service.store.db import Database
from service.store.tables import (
    AlertRow,
    ArticleRow,
    CheckDailyRow,
    CheckRow,
    DriftRow,
    LinkRow,
    NotificationRow,
    OccurrenceRow,
    SaveRequestRow,
    SnapshotRow,
    SourceRow,
    TransitionRow,
)
from service.store.types import UTCDateTime


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


RUNTIME_TABLES = frozenset({"workers", "monitor_state", "alembic_version"})
"""Heartbeats and the monitor's small state: not history, never exported."""

EXPORT_TABLES: tuple[Table, ...] = tuple(
    _table(row)
    for row in (
        SourceRow,
        ArticleRow,
        LinkRow,
        OccurrenceRow,
        CheckRow,
        CheckDailyRow,
        DriftRow,
        SnapshotRow,
        SaveRequestRow,
        TransitionRow,
        AlertRow,
        NotificationRow,
    )
)
"""Every exported table, parents before children."""

BY_NAME: dict[str, Table] = {t.name: t for t in EXPORT_TABLES}
YIELD_PER = 1000
BATCH = 1000


# --------------------------------------------------------------------------- values


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decoder(column: Column[Any]) -> Any:
    if isinstance(column.type, UTCDateTime):
        return _parse_datetime
    if isinstance(column.type, Date):
        return date.fromisoformat
    return None


def _parse_datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


# --------------------------------------------------------------------------- export


def _since_filters(since: datetime) -> dict[str, ColumnElement[bool]]:
    """Row filters of an export from `since` on, closed under references.

    Time-stamped history rows are kept from `since`; a kept row's parents are kept too (a
    notification keeps its alert, an alert its transition, a transition its check), so the
    export imports cleanly. Articles, links and occurrences are always exported whole.
    """
    n, a, t, c = (_table(x) for x in (NotificationRow, AlertRow, TransitionRow, CheckRow))
    alerts_kept = or_(
        a.c.created_at >= since,
        a.c.id.in_(select(n.c.alert_id).where(n.c.at >= since)),
    )
    transitions_kept = or_(
        t.c.at >= since,
        t.c.id.in_(select(a.c.transition_id).where(alerts_kept, a.c.transition_id.is_not(None))),
    )
    checks_kept = or_(
        c.c.checked_at >= since,
        c.c.id.in_(select(t.c.check_id).where(transitions_kept, t.c.check_id.is_not(None))),
    )
    s, sr, d, dr = (_table(x) for x in (SnapshotRow, SaveRequestRow, CheckDailyRow, DriftRow))
    return {
        "checks": checks_kept,
        "check_daily": d.c.day >= since.date(),
        "drift_checks": dr.c.checked_at >= since,
        "snapshots": s.c.looked_up_at >= since,
        "save_requests": or_(sr.c.submitted_at >= since, sr.c.submitted_at.is_(None)),
        "transitions": transitions_kept,
        "alerts": alerts_kept,
        "notifications": n.c.at >= since,
    }


Record = tuple[str, dict[str, Any]]


def export_rows(conn: Connection, since: date | datetime | None = None) -> Iterator[Record]:
    """(table name, row as JSON-ready dict) for every exported row, in dependency and key order."""
    filters: dict[str, ColumnElement[bool]] = {}
    if since is not None:
        start = since if isinstance(since, datetime) else datetime.combine(since, time(), UTC)
        filters = _since_filters(start if start.tzinfo else start.replace(tzinfo=UTC))
    for table in EXPORT_TABLES:
        query = select(table).order_by(*table.primary_key.columns)
        if table.name in filters:
            query = query.where(filters[table.name])
        result = conn.execution_options(yield_per=YIELD_PER).execute(query)
        for row in result.mappings():
            yield table.name, {key: _encode(value) for key, value in row.items()}


def export_jsonl(db: Database, out: TextIO, since: date | datetime | None = None) -> dict[str, int]:
    """Write every exported row of `db` to `out` as JSON lines; the count per table."""
    counts = {t.name: 0 for t in EXPORT_TABLES}
    with db.engine.connect() as conn:
        for name, row in export_rows(conn, since):
            record = {"table": name, "row": row}
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            counts[name] += 1
    out.flush()
    return counts


# --------------------------------------------------------------------------- import


@dataclass
class _Loader:
    """Batches rows of one table at a time into INSERTs, checking order and columns."""

    conn: Connection
    source: str
    counts: dict[str, int] = field(default_factory=lambda: {t.name: 0 for t in EXPORT_TABLES})
    table: Table | None = None
    batch: list[dict[str, Any]] = field(default_factory=list)
    done: set[str] = field(default_factory=set)

    def add(self, line_no: int, name: str, row: dict[str, Any]) -> None:
        table = BY_NAME.get(name)
        where = f"{self.source}:{line_no}"
        if table is None:
            raise InputError(f"{where}: unknown table {name!r} (known: {', '.join(BY_NAME)})")
        if table is not self.table:
            if name in self.done:
                raise InputError(
                    f"{where}: rows of {name!r} after other tables: not a linkwatch export"
                )
            self.flush()
            if self.table is not None:
                self.done.add(self.table.name)
            self.table = table
        self.batch.append(self._values(table, row, where))
        if len(self.batch) >= BATCH:
            self.flush()

    def _values(self, table: Table, row: dict[str, Any], where: str) -> dict[str, Any]:
        unknown = set(row) - set(table.c.keys())
        if unknown:
            raise InputError(
                f"{where}: unknown column(s) {', '.join(sorted(unknown))} in {table.name!r} "
                "(exported by a newer linkwatch? upgrade this one first)"
            )
        values: dict[str, Any] = {}
        for column in table.columns:
            value = row.get(column.key)
            if column.key not in row and not column.nullable:
                raise InputError(f"{where}: {table.name}.{column.key} is missing")
            decode = _decoder(column)
            if value is not None and decode is not None:
                try:
                    value = decode(value)
                except (TypeError, ValueError) as exc:
                    raise InputError(
                        f"{where}: {table.name}.{column.key}: bad value {value!r}"
                    ) from exc
            values[column.key] = value
        return values

    def flush(self) -> None:
        if self.table is None or not self.batch:
            return
        self.conn.execute(self.table.insert(), self.batch)
        self.counts[self.table.name] += len(self.batch)
        self.batch = []


def _records(lines: Iterable[str], source: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}:{line_no}: not JSON ({exc.msg})") from exc
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("table"), str)
            or not isinstance(record.get("row"), dict)
        ):
            raise InputError(f'{source}:{line_no}: expected {{"table": ..., "row": {{...}}}}')
        yield line_no, record["table"], record["row"]


def non_empty_tables(conn: Connection) -> dict[str, int]:
    """Tables of the export that already hold rows, with their row counts."""
    out = {}
    for table in EXPORT_TABLES:
        count = conn.execute(select(func.count()).select_from(table)).scalar_one()
        if count:
            out[table.name] = int(count)
    return out


def reset_sequences(conn: Connection) -> None:
    """PostgreSQL: move each id sequence past the highest imported id (SQLite needs nothing)."""
    if conn.dialect.name != "postgresql":
        return
    for table in EXPORT_TABLES:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not pk[0].autoincrement or pk[0].type.python_type is not int:
            continue
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "  # noqa: S608 (names from our schema)
                f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 1), "
                f"(SELECT MAX({pk[0].name}) FROM {table.name}) IS NOT NULL)"
            ),
            {"table": table.name, "column": pk[0].name},
        )


def import_jsonl(db: Database, lines: Iterable[str], source: str = "-") -> dict[str, int]:
    """Load an export into the EMPTY database `db` in one transaction; the count per table.

    Ids are kept. Raises StoreError when the database already holds data, InputError (with the
    line number) for anything that is not a linkwatch export; nothing is written then.
    """
    with db.engine.begin() as conn:
        existing = non_empty_tables(conn)
        if existing:
            held = ", ".join(f"{name} ({count} rows)" for name, count in existing.items())
            raise StoreError(
                f"the database {db.display_url} is not empty: {held}; import only into an empty "
                "database (a new SQLite file, or a new PostgreSQL database)"
            )
        loader = _Loader(conn, source)
        try:
            for line_no, name, row in _records(lines, source):
                loader.add(line_no, name, row)
            loader.flush()
        except (sa_exc.IntegrityError, sa_exc.DataError) as exc:
            detail = str(exc.orig or exc).strip().splitlines()[0]
            table = loader.table.name if loader.table is not None else "?"
            raise StoreError(
                f"{source}: rows of {table!r} refused by the database: {detail}"
            ) from exc
        reset_sequences(conn)
        return loader.counts
