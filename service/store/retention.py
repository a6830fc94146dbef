"""Retention: raw checks older than the retention period become one row per link per day.

`roll_up(session_factory, now, retention_days)` folds every check older than the cutoff (the
start of the UTC day `retention_days` before `now`) into `check_daily` (number of checks,
number of alive outcomes, worst outcome) and deletes those checks, one day per transaction.
Transitions are kept forever; a transition whose check is rolled up keeps its time, health
change and outcome, and its `check_id` is cleared. Running it again changes nothing
(idempotent); a day rolled up twice (a late check) is merged, never double-counted.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from service.model import Outcome, Signal
from service.store.tables import CheckRow, TransitionRow
from service.store.types import UTCDateTime

CHECKS: sa.Table = CheckRow.__table__  # type: ignore[attr-defined]
TRANSITIONS: sa.Table = TransitionRow.__table__  # type: ignore[attr-defined]

# How bad an outcome is, for "worst outcome of the day": dead signals, then transient, unknown,
# alive, and `offline` (which says nothing about the link) last. Unique ranks, higher is worse.
_SIGNAL_RANK = {
    Signal.NONE: 0,
    Signal.ALIVE: 1,
    Signal.UNKNOWN: 2,
    Signal.TRANSIENT: 3,
    Signal.DEAD: 4,
}
OUTCOME_RANK: dict[str, int] = {
    o.value: _SIGNAL_RANK[o.signal] * 100 + i for i, o in enumerate(Outcome)
}
ALIVE_OUTCOMES = tuple(o.value for o in Outcome if o.signal is Signal.ALIVE)


def worst_outcome(outcomes: list[str]) -> str:
    """The worst of some outcome values (the same order the SQL uses)."""
    return max(outcomes, key=lambda o: OUTCOME_RANK.get(o, -1))


@dataclass(frozen=True, slots=True)
class RetentionResult:
    days: int  # days rolled up
    checks_deleted: int
    daily_rows: int  # check_daily rows written or merged


def cutoff_for(now: datetime, retention_days: int) -> datetime:
    """Checks before this instant are rolled up: midnight UTC, `retention_days` before `now`."""
    day = (now.astimezone(UTC) - timedelta(days=retention_days)).date()
    return datetime.combine(day, time(0), tzinfo=UTC)


def _rank_case(column: str) -> str:
    whens = " ".join(f"WHEN '{o}' THEN {r}" for o, r in OUTCOME_RANK.items())
    return f"(CASE {column} {whens} ELSE -1 END)"


def _outcome_of_rank(expr: str) -> str:
    whens = " ".join(f"WHEN {r} THEN '{o}'" for o, r in OUTCOME_RANK.items())
    return f"(CASE {expr} {whens} ELSE 'unknown' END)"


_ALIVE_LIST = ", ".join(f"'{o}'" for o in ALIVE_OUTCOMES)

# One day's checks -> check_daily, merged with a row already there. The SELECT's `WHERE` is
# also what lets SQLite parse INSERT ... SELECT ... ON CONFLICT.
_ROLL_DAY = sa.text(
    f"""
    INSERT INTO check_daily (link_id, day, checks, alive, worst_outcome)
    SELECT link_id, :day, COUNT(*),
           SUM(CASE WHEN outcome IN ({_ALIVE_LIST}) THEN 1 ELSE 0 END),
           {_outcome_of_rank("MAX(" + _rank_case("outcome") + ")")}
    FROM checks
    WHERE checked_at >= :start AND checked_at < :end
    GROUP BY link_id
    ON CONFLICT (link_id, day) DO UPDATE SET
        checks = check_daily.checks + excluded.checks,
        alive = check_daily.alive + excluded.alive,
        worst_outcome = CASE
            WHEN {_rank_case("excluded.worst_outcome")} > {_rank_case("check_daily.worst_outcome")}
            THEN excluded.worst_outcome ELSE check_daily.worst_outcome END
    """  # noqa: S608  (only constants from this module are formatted in)
).bindparams(
    sa.bindparam("day", type_=sa.Date),
    sa.bindparam("start", type_=UTCDateTime),
    sa.bindparam("end", type_=UTCDateTime),
)


def oldest_check_before(session: Session, cutoff: datetime) -> datetime | None:
    value = session.execute(
        sa.select(sa.func.min(CHECKS.c.checked_at)).where(CHECKS.c.checked_at < cutoff)
    ).scalar_one_or_none()
    return value if isinstance(value, datetime) else None


def roll_up_day(session: Session, day: date) -> tuple[int, int]:
    """Fold the checks of one UTC day into check_daily and delete them: (daily rows, checks)."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    end = start + timedelta(days=1)
    written = session.execute(_ROLL_DAY, {"day": day, "start": start, "end": end}).rowcount  # type: ignore[attr-defined]
    in_day = sa.and_(CHECKS.c.checked_at >= start, CHECKS.c.checked_at < end)
    session.execute(
        sa.update(TRANSITIONS)
        .where(TRANSITIONS.c.check_id.in_(sa.select(CHECKS.c.id).where(in_day)))
        .values(check_id=None)
    )
    deleted = session.execute(sa.delete(CHECKS).where(in_day)).rowcount  # type: ignore[attr-defined]
    return int(written or 0), int(deleted or 0)


def roll_up(
    sessions: Callable[[], AbstractContextManager[Session]],
    now: datetime,
    retention_days: int,
    *,
    should_stop: Callable[[], bool] = lambda: False,
) -> RetentionResult:
    """Roll up every check older than the retention period, one day per transaction.

    `sessions` is `Database.session` (each call a committing transaction). Safe to interrupt
    (`should_stop`, a crash): each day is rolled up and deleted atomically.
    """
    cutoff = cutoff_for(now, retention_days)
    days = deleted = rows = 0
    while not should_stop():
        with sessions() as session:
            oldest = oldest_check_before(session, cutoff)
            if oldest is None:
                break
            written, removed = roll_up_day(session, oldest.astimezone(UTC).date())
        days += 1
        rows += written
        deleted += removed
    return RetentionResult(days=days, checks_deleted=deleted, daily_rows=rows)
