"""Daemon heartbeats: one `workers` row per running daemon, upserted every tick."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from service.store.tables import WorkerRow


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    name: str
    hostname: str
    pid: int
    started_at: datetime | None
    beat_at: datetime | None
    stopping: bool


def beat(
    session: Session,
    name: str,
    now: datetime,
    *,
    hostname: str,
    pid: int,
    started_at: datetime,
    stopping: bool = False,
) -> None:
    """Record that worker `name` is alive at `now` (insert or update its row)."""
    values = {
        "name": name,
        "hostname": hostname,
        "pid": pid,
        "started_at": started_at,
        "beat_at": now,
        "stopping": stopping,
    }
    table = WorkerRow.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = insert.values(**values).on_conflict_do_update(
        index_elements=[table.c.name],
        set_={"beat_at": now, "stopping": stopping, "hostname": hostname, "pid": pid},
    )
    session.execute(stmt)


def list_workers(session: Session) -> list[WorkerBeat]:
    """Every known worker, the freshest beat first."""
    rows = session.exec(select(WorkerRow).order_by(col(WorkerRow.beat_at).desc())).all()
    return [
        WorkerBeat(r.name, r.hostname, r.pid, r.started_at, r.beat_at, r.stopping) for r in rows
    ]


def prune_workers(session: Session, older_than: datetime) -> int:
    """Forget workers whose last beat is older than `older_than` (stopped or crashed long ago)."""
    table = WorkerRow.__table__  # type: ignore[attr-defined]
    result = session.execute(sa.delete(table).where(table.c.beat_at < older_than))
    return int(result.rowcount)  # type: ignore[attr-defined]
