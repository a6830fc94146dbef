"""Per-link check history for the report: availability windows and the 90-day strip.

Each link's aggregate is a correlated subquery of a query over `links`, so the database seeks
the `(link_id, checked_at)` index once per link and reads that link's checks of the window
together, whatever order the `checks` table was written in. A single GROUP BY over the window
leaves the plan to the range on `checked_at`: SQLite then walks `ix_checks_checked_at` and
fetches the table rows in time order, one random page read per check when the table was
written link by link (a bulk import): 2 s instead of 0.6 s for 900,000 checks.

A link's result comes back packed into one text value (`"c7 a7 c30 a30 c90 a90"`, or
`"day code n,day code n,..."` for the strip), so 10,000 links are 10,000 rows to Python rather
than 900,000 (link, day) rows. Raw checks and the daily roll-ups of `check_daily` (days older
than the retention period) are two subqueries of the same statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.model import Outcome, Signal
from service.reports.model import STRIP_DAYS, WINDOWS, Availability, DayCell, outcome_severity
from service.store.tables import ALL_TABLES

LINKS = ALL_TABLES[0].metadata.tables["links"]
CHECKS = ALL_TABLES[0].metadata.tables["checks"]
DAILY = ALL_TABLES[0].metadata.tables["check_daily"]

_OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
_ALIVE_VALUES = [o.value for o in Outcome if o.signal is Signal.ALIVE]
_OFFLINE_VALUES = [o.value for o in Outcome if o.signal is Signal.NONE]

# Restricts a link id column to the links a report covers (build._Scope.restrict).
Restrict = Callable[[sa.ColumnElement[Any]], sa.ColumnElement[bool]]
# A link's packed strip: its raw checks' days and its rolled-up days (None: none).
StripText = tuple[str | None, str | None]


def outcome_code(outcome: Outcome) -> int:
    """Severity-major code of an outcome, so MAX() in SQL picks the worst outcome of a group."""
    return outcome_severity(outcome) * 32 + _OUTCOMES.index(outcome) + 1


def decode_outcome(code: int | None) -> Outcome | None:
    if not code:
        return None
    return _OUTCOMES[code % 32 - 1]


def _code_of(column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """outcome_code of an outcome column in SQL (0 for a value that is no Outcome)."""
    return sa.case({o.value: outcome_code(o) for o in _OUTCOMES}, value=column, else_=0)


def _packed(values: Sequence[sa.ColumnElement[Any]], sep: str) -> sa.ColumnElement[str]:
    """The values as one text in SQL, `sep` between them (NULL when one of them is NULL)."""
    out: sa.ColumnElement[str] = sa.cast(values[0], sa.String)
    for value in values[1:]:
        out = out + sa.literal_column(f"'{sep}'", sa.String) + sa.cast(value, sa.String)
    return out


def _day_text(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[str]:
    """The (UTC) day of a stored datetime or date as 'YYYY-MM-DD' text.

    SQLite stores both as ISO text, whose first ten characters are the day (cheaper than
    date()); PostgreSQL formats explicitly, whatever its DateStyle. Literal arguments, not
    bound ones: PostgreSQL must see the same expression in GROUP BY as in the select list."""
    if dialect == "postgresql":
        return sa.func.to_char(column, sa.literal_column("'YYYY-MM-DD'"))
    return sa.func.substr(column, sa.literal_column("1"), sa.literal_column("10"))


def _ints(packed: str | None, into: list[int]) -> None:
    """Add the space-separated integers of `packed` to `into`, position by position."""
    if packed:
        for i, value in enumerate(packed.split(" ")):
            into[i] += int(value)


def read_availability(
    conn: Connection, restrict: Restrict, now: datetime
) -> dict[int, tuple[Availability, ...]]:
    """Checks and alive checks per link per window (offline checks excluded), from the raw
    checks plus the daily roll-ups, for the links with any. One statement."""
    longest = max(WINDOWS)
    starts = {days: now - timedelta(days=days) for days in WINDOWS}
    is_alive = CHECKS.c.outcome.in_(_ALIVE_VALUES)
    raw_sums: list[sa.ColumnElement[Any]] = []
    for days in WINDOWS:
        in_window = CHECKS.c.checked_at >= starts[days]
        raw_sums.append(sa.func.sum(sa.case((in_window, 1), else_=0)))
        raw_sums.append(sa.func.sum(sa.case((sa.and_(in_window, is_alive), 1), else_=0)))
    raw = (
        sa.select(_packed(raw_sums, " "))
        .where(
            CHECKS.c.link_id == LINKS.c.id,
            CHECKS.c.checked_at >= starts[longest],
            CHECKS.c.checked_at <= now,
            CHECKS.c.outcome.not_in(_OFFLINE_VALUES),
        )
        .scalar_subquery()
    )
    # Days rolled up into check_daily count as whole days.
    today = now.date()
    first_day = {days: today - timedelta(days=days - 1) for days in WINDOWS}
    rolled_sums: list[sa.ColumnElement[Any]] = []
    for days in WINDOWS:
        in_window = DAILY.c.day >= first_day[days]
        rolled_sums.append(sa.func.sum(sa.case((in_window, DAILY.c.checks), else_=0)))
        rolled_sums.append(sa.func.sum(sa.case((in_window, DAILY.c.alive), else_=0)))
    rolled = (
        sa.select(_packed(rolled_sums, " "))
        .where(
            DAILY.c.link_id == LINKS.c.id,
            DAILY.c.day >= first_day[longest],
            DAILY.c.day <= today,
        )
        .scalar_subquery()
    )
    query = sa.select(LINKS.c.id, raw, rolled).where(restrict(LINKS.c.id))
    out: dict[int, tuple[Availability, ...]] = {}
    for link_id, raw_text, rolled_text in conn.execute(query):
        if raw_text is None and rolled_text is None:
            continue
        totals = [0] * (2 * len(WINDOWS))
        _ints(raw_text, totals)
        _ints(rolled_text, totals)
        out[link_id] = tuple(
            Availability(days, checks=totals[2 * i], alive=totals[2 * i + 1])
            for i, days in enumerate(WINDOWS)
        )
    return out


def read_strips(conn: Connection, restrict: Restrict, now: datetime) -> dict[int, StripText]:
    """Per link with any check in the last 90 days (by UTC day, today included): its days
    packed as `"YYYY-MM-DD code n"` items (worst outcome_code, number of checks), raw checks
    and daily roll-ups apart. One statement."""
    dialect = conn.dialect.name
    today = now.date()
    first = today - timedelta(days=STRIP_DAYS - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    day = _day_text(CHECKS.c.checked_at, dialect)
    per_day = (
        sa.select(
            day.label("day"),
            sa.func.max(_code_of(CHECKS.c.outcome)).label("worst"),
            sa.func.count().label("n"),
        )
        .where(
            CHECKS.c.link_id == LINKS.c.id,
            CHECKS.c.checked_at >= start,
            CHECKS.c.checked_at <= now,
        )
        .group_by(day)
        .correlate(LINKS)
        .subquery("per_day")
    )
    raw = (
        sa.select(
            sa.func.aggregate_strings(
                _packed([per_day.c.day, per_day.c.worst, per_day.c.n], " "), ","
            )
        )
        .select_from(per_day)
        .scalar_subquery()
    )
    rolled_item = _packed(
        [_day_text(DAILY.c.day, dialect), _code_of(DAILY.c.worst_outcome), DAILY.c.checks], " "
    )
    rolled = (
        sa.select(sa.func.aggregate_strings(rolled_item, ","))
        .where(DAILY.c.link_id == LINKS.c.id, DAILY.c.day >= first, DAILY.c.day <= today)
        .scalar_subquery()
    )
    query = sa.select(LINKS.c.id, raw, rolled).where(restrict(LINKS.c.id))
    return {
        link_id: (raw_text, rolled_text)
        for link_id, raw_text, rolled_text in conn.execute(query)
        if raw_text is not None or rolled_text is not None
    }


class Strips:
    """Turns packed strips into 90 DayCells, oldest first, ending `today`.

    Links with the same history get the same tuple (and cells are shared too): most links of a
    publication look alike day by day, so each distinct strip is decoded once, and the HTML
    formatter, which draws strips by identity, draws it once."""

    def __init__(self, today: date) -> None:
        self.days = tuple(today - timedelta(days=back) for back in range(STRIP_DAYS - 1, -1, -1))
        self._index = {d.isoformat(): i for i, d in enumerate(self.days)}
        self._cells: dict[tuple[int, int, int], DayCell] = {}
        self._strips: dict[StripText, tuple[DayCell, ...]] = {}
        self.empty = tuple(DayCell(day=d) for d in self.days)

    def strip(self, packed: StripText | None) -> tuple[DayCell, ...]:
        if packed is None:
            return self.empty
        found = self._strips.get(packed)
        if found is None:
            found = self._strips[packed] = self._decode(packed)
        return found

    def _decode(self, packed: StripText) -> tuple[DayCell, ...]:
        worst = [0] * STRIP_DAYS
        checks = [0] * STRIP_DAYS
        for text in packed:
            if not text:
                continue
            for item in text.split(","):
                day, code, n = item.split(" ")
                i = self._index.get(day)
                if i is not None:
                    worst[i] = max(worst[i], int(code))
                    checks[i] += int(n)
        return tuple(self._cell(i, worst[i], checks[i]) for i in range(STRIP_DAYS))

    def _cell(self, i: int, code: int, n: int) -> DayCell:
        key = (i, code, n)
        cell = self._cells.get(key)
        if cell is None:
            cell = DayCell(day=self.days[i], worst=decode_outcome(code), checks=n)
            self._cells[key] = cell
        return cell
