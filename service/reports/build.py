"""Build the report model from the database in a fixed, small number of queries (no N+1).

Queries: articles; occurrences joined to their links; availability per link (one aggregate over
`checks` and one over `check_daily`); snapshots; the newest drift verdict per link; the warnings
of each link's last check (e.g. a missing `#anchor`); and, with
`history=True`, the worst outcome per link per day over the last 90 days (again aggregated in
SQL). A publication with 200,000
occurrences or 10,000 links with a year of daily checks is read in about a second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from service.drift.verdict import drift_score
from service.errors import UsageError
from service.model import Health, LinkKind, Outcome, Signal
from service.reports.model import (
    DRIFT_VERDICTS,
    HEALTH_ORDER,
    STRIP_DAYS,
    WINDOWS,
    ArchiveRef,
    Availability,
    DayCell,
    LinkReport,
    Report,
    make_article_report,
    occurrence_warnings,
    outcome_severity,
)
from service.store.repo import warnings_from_json
from service.store.tables import ALL_TABLES

ARTICLES = ALL_TABLES[0].metadata.tables["articles"]
LINKS = ALL_TABLES[0].metadata.tables["links"]
OCCURRENCES = ALL_TABLES[0].metadata.tables["occurrences"]
CHECKS = ALL_TABLES[0].metadata.tables["checks"]
DAILY = ALL_TABLES[0].metadata.tables["check_daily"]
SNAPSHOTS = ALL_TABLES[0].metadata.tables["snapshots"]
DRIFT = ALL_TABLES[0].metadata.tables["drift_checks"]

_OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
_ALIVE_VALUES = [o.value for o in Outcome if o.signal is Signal.ALIVE]
_OFFLINE_VALUES = [o.value for o in Outcome if o.signal is Signal.NONE]


def _outcome_code(outcome: Outcome) -> int:
    """Severity-major code of an outcome, so MAX() in SQL picks the worst outcome of a group."""
    return outcome_severity(outcome) * 32 + _OUTCOMES.index(outcome) + 1


def _decode_outcome(code: int | None) -> Outcome | None:
    if not code:
        return None
    return _OUTCOMES[code % 32 - 1]


def _outcome_or_none(value: str | None) -> Outcome | None:
    if value is None:
        return None
    try:
        return Outcome(value)
    except ValueError:
        return None


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class _Scope:
    """Which occurrences the report covers, as SQL conditions (reused in the link subqueries)."""

    occurrence_where: sa.ColumnElement[bool]
    whole_database: bool
    link_id_list: tuple[int, ...] | None = None  # explicit link ids instead of the occurrences

    def link_ids(self) -> sa.Select[tuple[Any]]:
        return (
            sa.select(OCCURRENCES.c.link_id)
            .select_from(OCCURRENCES.outerjoin(LINKS, LINKS.c.id == OCCURRENCES.c.link_id))
            .where(self.occurrence_where, OCCURRENCES.c.link_id.is_not(None))
        )

    def restrict(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        if self.link_id_list is not None:
            return column.in_(self.link_id_list)
        if self.whole_database:
            return sa.true()
        return column.in_(self.link_ids())


def build_report(
    session: Session | Connection,
    *,
    article_ids: Sequence[int] | None = None,
    health: set[Health] | frozenset[Health] | None = None,
    now: datetime,
    history: bool = False,
) -> Report:
    """Read the report for some articles (default: every active article) from the database.

    `health` keeps only the link occurrences in those health states (articles left without any
    link are dropped when a filter is given). `history=True` also fills each link's 90-day strip
    (`LinkReport.days`), which only the HTML report draws. Raises UsageError for an unknown id.
    """
    conn = session.connection() if isinstance(session, Session) else session
    now = _utc(now) or datetime.now(UTC)

    articles = _read_articles(conn, article_ids)
    if not articles:
        return Report(generated_at=now, articles=())
    health_value = sa.func.coalesce(LINKS.c.health, Health.NOT_APPLICABLE.value)
    where: list[sa.ColumnElement[bool]] = [OCCURRENCES.c.active.is_(True)]
    if article_ids is not None:
        where.append(OCCURRENCES.c.article_id.in_(list(articles)))
    else:
        where.append(
            OCCURRENCES.c.article_id.in_(
                sa.select(ARTICLES.c.id).where(ARTICLES.c.active.is_(True))
            )
        )
    if health is not None:
        where.append(health_value.in_(sorted(h.value for h in health)))
    scope = _Scope(sa.and_(*where), whole_database=article_ids is None and health is None)

    occurrence_rows = _read_occurrences(conn, scope, health_value)
    link_ids = {row.link_id for row in occurrence_rows if row.link_id is not None}
    availability = _read_availability(conn, scope, now) if link_ids else {}
    snapshots = _read_snapshots(conn, scope) if link_ids else {}
    drift = _read_drift(conn, scope) if link_ids else {}
    warnings = _read_warnings(conn, scope) if link_ids else {}
    strips = _read_strips(conn, scope, now) if history and link_ids else {}

    by_article: dict[int, list[LinkReport]] = defaultdict(list)
    for row in occurrence_rows:
        by_article[row.article_id].append(
            _link_report(
                row,
                location=articles[row.article_id].location,
                availability=availability,
                snapshots=snapshots,
                drift=drift,
                warnings=warnings,
                strips=strips,
                now=now,
                history=history,
            )
        )

    reports = []
    for article_id, art in articles.items():
        links = by_article.get(article_id, [])
        if health is not None and not links:
            continue
        reports.append(
            make_article_report(
                id=article_id,
                location=art.location,
                title=art.title,
                published=art.published,
                source_url=art.source_url,
                links=links,
            )
        )
    return Report(generated_at=now, articles=tuple(reports))


@dataclass(frozen=True, slots=True)
class _Article:
    location: str
    title: str | None
    published: date | None
    source_url: str | None


def _read_articles(conn: Connection, article_ids: Sequence[int] | None) -> dict[int, _Article]:
    query = sa.select(
        ARTICLES.c.id,
        ARTICLES.c.location,
        ARTICLES.c.title,
        ARTICLES.c.published,
        ARTICLES.c.source_url,
    ).order_by(ARTICLES.c.id)
    if article_ids is None:
        query = query.where(ARTICLES.c.active.is_(True))
    else:
        query = query.where(ARTICLES.c.id.in_(list(article_ids)))
    found = {
        row.id: _Article(
            row.location,
            row.title,
            _as_date(row.published) if row.published else None,
            row.source_url,
        )
        for row in conn.execute(query)
    }
    if article_ids is not None:
        missing = sorted(set(article_ids) - set(found))
        if missing:
            raise UsageError(f"no article with id {', '.join(str(m) for m in missing)}")
        order = list(dict.fromkeys(article_ids))
        found = {i: found[i] for i in order}
    return found


def _read_occurrences(
    conn: Connection, scope: _Scope, health_value: sa.ColumnElement[Any]
) -> list[Any]:
    query = (
        sa.select(
            OCCURRENCES.c.id,
            OCCURRENCES.c.article_id,
            OCCURRENCES.c.link_id,
            OCCURRENCES.c.position,
            OCCURRENCES.c.href,
            OCCURRENCES.c.anchor_text,
            OCCURRENCES.c.line,
            OCCURRENCES.c.kind,
            OCCURRENCES.c.fragment,
            LINKS.c.url,
            health_value.label("health"),
            LINKS.c.health_since,
            LINKS.c.last_checked_at,
            LINKS.c.last_outcome,
            LINKS.c.last_status,
            LINKS.c.last_final_url,
            LINKS.c.ignored,
        )
        .select_from(OCCURRENCES.outerjoin(LINKS, LINKS.c.id == OCCURRENCES.c.link_id))
        .where(scope.occurrence_where)
        .order_by(OCCURRENCES.c.article_id, OCCURRENCES.c.position, OCCURRENCES.c.id)
    )
    return list(conn.execute(query))


def _read_availability(
    conn: Connection, scope: _Scope, now: datetime
) -> dict[int, tuple[Availability, ...]]:
    """Checks and alive checks per link per window, from raw checks plus daily roll-ups."""
    longest = max(WINDOWS)
    starts = {days: now - timedelta(days=days) for days in WINDOWS}
    is_alive = CHECKS.c.outcome.in_(_ALIVE_VALUES)
    columns: list[sa.ColumnElement[Any]] = [CHECKS.c.link_id]
    for days in WINDOWS:
        in_window = CHECKS.c.checked_at >= starts[days]
        columns.append(sa.func.sum(sa.case((in_window, 1), else_=0)).label(f"c{days}"))
        columns.append(
            sa.func.sum(sa.case((sa.and_(in_window, is_alive), 1), else_=0)).label(f"a{days}")
        )
    raw = (
        sa.select(*columns)
        .where(
            CHECKS.c.checked_at >= starts[longest],
            CHECKS.c.checked_at <= now,
            CHECKS.c.outcome.not_in(_OFFLINE_VALUES),
            scope.restrict(CHECKS.c.link_id),
        )
        .group_by(CHECKS.c.link_id)
    )
    totals: dict[int, dict[int, list[int]]] = defaultdict(lambda: {d: [0, 0] for d in WINDOWS})
    for row in conn.execute(raw):
        for days in WINDOWS:
            slot = totals[row.link_id][days]
            slot[0] += int(getattr(row, f"c{days}") or 0)
            slot[1] += int(getattr(row, f"a{days}") or 0)

    # Days rolled up into check_daily (older than the retention period) count as whole days.
    today = now.date()
    first_day = {days: today - timedelta(days=days - 1) for days in WINDOWS}
    daily_cols: list[sa.ColumnElement[Any]] = [DAILY.c.link_id]
    for days in WINDOWS:
        in_window = DAILY.c.day >= first_day[days]
        daily_cols.append(
            sa.func.sum(sa.case((in_window, DAILY.c.checks), else_=0)).label(f"c{days}")
        )
        daily_cols.append(
            sa.func.sum(sa.case((in_window, DAILY.c.alive), else_=0)).label(f"a{days}")
        )
    rolled = (
        sa.select(*daily_cols)
        .where(
            DAILY.c.day >= first_day[longest], DAILY.c.day <= today, scope.restrict(DAILY.c.link_id)
        )
        .group_by(DAILY.c.link_id)
    )
    for row in conn.execute(rolled):
        for days in WINDOWS:
            slot = totals[row.link_id][days]
            slot[0] += int(getattr(row, f"c{days}") or 0)
            slot[1] += int(getattr(row, f"a{days}") or 0)
    return {
        link_id: tuple(Availability(days, checks=v[days][0], alive=v[days][1]) for days in WINDOWS)
        for link_id, v in totals.items()
    }


def _read_snapshots(conn: Connection, scope: _Scope) -> dict[tuple[int, str], ArchiveRef]:
    query = sa.select(
        SNAPSHOTS.c.link_id, SNAPSHOTS.c.role, SNAPSHOTS.c.archive_url, SNAPSHOTS.c.captured_at
    ).where(
        SNAPSHOTS.c.found.is_(True),
        SNAPSHOTS.c.archive_url.is_not(None),
        scope.restrict(SNAPSHOTS.c.link_id),
    )
    out: dict[tuple[int, str], ArchiveRef] = {}
    for row in conn.execute(query):
        captured = _utc(row.captured_at)
        if captured is None:
            continue
        out[(row.link_id, row.role)] = ArchiveRef(url=row.archive_url, timestamp=captured)
    return out


@dataclass(frozen=True, slots=True)
class _Drift:
    verdict: str
    score: float | None
    checked_at: datetime | None


def _read_drift(conn: Connection, scope: _Scope) -> dict[int, _Drift]:
    """Per link: its newest drift verdict (comparisons without a verdict are skipped)."""
    newer_row = DRIFT.alias("d_newer")
    newer = sa.select(newer_row.c.id).where(
        newer_row.c.link_id == DRIFT.c.link_id,
        newer_row.c.verdict.in_(DRIFT_VERDICTS),
        sa.or_(
            newer_row.c.checked_at > DRIFT.c.checked_at,
            sa.and_(newer_row.c.checked_at == DRIFT.c.checked_at, newer_row.c.id > DRIFT.c.id),
        ),
    )
    query = sa.select(DRIFT.c.link_id, DRIFT.c.verdict, DRIFT.c.cosine, DRIFT.c.checked_at).where(
        DRIFT.c.verdict.in_(DRIFT_VERDICTS),
        scope.restrict(DRIFT.c.link_id),
        ~newer.exists(),
    )
    return {
        row.link_id: _Drift(row.verdict, drift_score(row.cosine), _utc(row.checked_at))
        for row in conn.execute(query)
    }


def _read_warnings(conn: Connection, scope: _Scope) -> dict[int, tuple[str, ...]]:
    """Per link: the warnings of its last check (the one `links.last_checked_at` points at;
    offline checks never move it), for the links whose last check has any."""
    query = (
        sa.select(CHECKS.c.link_id, CHECKS.c.warnings)
        .select_from(
            CHECKS.join(
                LINKS,
                sa.and_(
                    LINKS.c.id == CHECKS.c.link_id,
                    CHECKS.c.checked_at == LINKS.c.last_checked_at,
                ),
            )
        )
        .where(CHECKS.c.warnings.is_not(None), scope.restrict(CHECKS.c.link_id))
        .order_by(CHECKS.c.id)
    )
    # Two checks of one link at the same instant: the later row wins.
    return {row.link_id: warnings_from_json(row.warnings) for row in conn.execute(query)}


def _read_strips(
    conn: Connection, scope: _Scope, now: datetime
) -> dict[int, dict[date, tuple[int, int]]]:
    """Per link, per day of the last 90: (worst outcome code, number of checks)."""
    today = now.date()
    first = today - timedelta(days=STRIP_DAYS - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    code = sa.case({o.value: _outcome_code(o) for o in _OUTCOMES}, value=CHECKS.c.outcome, else_=0)
    day = sa.func.date(CHECKS.c.checked_at)
    raw = (
        sa.select(
            CHECKS.c.link_id,
            day.label("day"),
            sa.func.max(code).label("worst"),
            sa.func.count().label("n"),
        )
        .where(
            CHECKS.c.checked_at >= start,
            CHECKS.c.checked_at <= now,
            scope.restrict(CHECKS.c.link_id),
        )
        .group_by(CHECKS.c.link_id, day)
    )
    strips: dict[int, dict[date, tuple[int, int]]] = defaultdict(dict)
    for row in conn.execute(raw):
        strips[row.link_id][_as_date(row.day)] = (int(row.worst or 0), int(row.n))
    rolled = sa.select(DAILY.c.link_id, DAILY.c.day, DAILY.c.worst_outcome, DAILY.c.checks).where(
        DAILY.c.day >= first, DAILY.c.day <= today, scope.restrict(DAILY.c.link_id)
    )
    for row in conn.execute(rolled):
        outcome = _outcome_or_none(row.worst_outcome)
        rolled_code = _outcome_code(outcome) if outcome else 0
        d = _as_date(row.day)
        old_code, old_n = strips[row.link_id].get(d, (0, 0))
        strips[row.link_id][d] = (max(old_code, rolled_code), old_n + int(row.checks or 0))
    return strips


def _strip(cells: dict[date, tuple[int, int]], today: date) -> tuple[DayCell, ...]:
    out = []
    for back in range(STRIP_DAYS - 1, -1, -1):
        d = today - timedelta(days=back)
        code, n = cells.get(d, (0, 0))
        out.append(DayCell(day=d, worst=_decode_outcome(code), checks=n))
    return tuple(out)


def _kind(value: str) -> LinkKind:
    try:
        return LinkKind(value)
    except ValueError:
        return LinkKind.INVALID


def _health(value: str | None) -> Health:
    try:
        return Health(value) if value else Health.NOT_APPLICABLE
    except ValueError:
        return Health.UNKNOWN


def _link_report(
    row: Any,
    *,
    location: str,
    availability: dict[int, tuple[Availability, ...]],
    snapshots: dict[tuple[int, str], ArchiveRef],
    drift: dict[int, _Drift],
    warnings: dict[int, tuple[str, ...]],
    strips: dict[int, dict[date, tuple[int, int]]],
    now: datetime,
    history: bool,
) -> LinkReport:
    link_id: int | None = row.link_id
    health = _health(row.health) if link_id is not None else Health.NOT_APPLICABLE
    outcome = _outcome_or_none(row.last_outcome)
    archive = snapshots.get((link_id, "citation")) if link_id is not None else None
    latest = snapshots.get((link_id, "latest")) if link_id is not None else None
    compared = drift.get(link_id) if link_id is not None else None
    windows: tuple[Availability, ...] = ()
    days: tuple[DayCell, ...] = ()
    if link_id is not None:
        windows = availability.get(link_id) or tuple(Availability(d) for d in WINDOWS)
        if history:
            days = _strip(strips.get(link_id, {}), now.date())
    return LinkReport(
        article=location,
        anchor_text=row.anchor_text,
        href=row.href,
        url=row.url,
        kind=_kind(row.kind),
        position=row.position,
        line=row.line,
        health=health,
        article_id=row.article_id,
        occurrence_id=row.id,
        link_id=link_id,
        outcome=outcome,
        http_status=row.last_status,
        final_url=row.last_final_url,
        checked_at=_utc(row.last_checked_at),
        since=_utc(row.health_since),
        availability=windows,
        days=days,
        archive=archive,
        archive_latest=latest,
        moved_to=row.last_final_url if outcome is Outcome.MOVED else None,
        at_risk=health is Health.ALIVE and archive is None and latest is None,
        ignored=bool(row.ignored),
        drift=compared.verdict if compared else None,
        drift_score=compared.score if compared else None,
        drift_checked_at=compared.checked_at if compared else None,
        warnings=occurrence_warnings(warnings.get(link_id, ()), row.fragment)
        if link_id is not None
        else (),
    )


def report_from_links(
    links: Iterable[LinkReport], *, now: datetime, articles: Iterable[tuple[str, str | None]] = ()
) -> Report:
    """Group ready-made LinkReports into a Report (for callers that did not go through the DB).

    `articles` optionally gives (location, title) pairs in the order to show them.
    """
    grouped: dict[str, list[LinkReport]] = defaultdict(list)
    for link in links:
        grouped[link.article].append(link)
    titles = dict(articles)
    order = list(dict.fromkeys([*titles, *grouped]))
    return Report(
        generated_at=now,
        articles=tuple(
            make_article_report(
                id=None,
                location=loc,
                title=titles.get(loc),
                published=None,
                source_url=None,
                links=grouped[loc],
            )
            for loc in order
        ),
    )


@dataclass(frozen=True, slots=True)
class ArticleSummary:
    """One article's counts without its links (the dashboard's article list)."""

    id: int
    location: str
    title: str | None
    published: date | None
    source_url: str | None
    active: bool
    counts: dict[Health, int]
    score: float | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def broken(self) -> int:
        return self.counts[Health.DEAD] + self.counts[Health.SUSPECT]

    @property
    def name(self) -> str:
        return self.title or self.location


def article_summaries(
    session: Session | Connection, *, include_inactive: bool = False
) -> list[ArticleSummary]:
    """Every article with its health counts and score, in two aggregate queries."""
    conn = session.connection() if isinstance(session, Session) else session
    query = sa.select(
        ARTICLES.c.id,
        ARTICLES.c.location,
        ARTICLES.c.title,
        ARTICLES.c.published,
        ARTICLES.c.source_url,
        ARTICLES.c.active,
    ).order_by(ARTICLES.c.id)
    if not include_inactive:
        query = query.where(ARTICLES.c.active.is_(True))
    rows = list(conn.execute(query))
    health_value = sa.func.coalesce(LINKS.c.health, Health.NOT_APPLICABLE.value)
    counted = (
        sa.select(
            OCCURRENCES.c.article_id,
            OCCURRENCES.c.kind,
            health_value.label("health"),
            sa.func.count().label("n"),
        )
        .select_from(OCCURRENCES.outerjoin(LINKS, LINKS.c.id == OCCURRENCES.c.link_id))
        .where(OCCURRENCES.c.active.is_(True))
        .group_by(OCCURRENCES.c.article_id, OCCURRENCES.c.kind, health_value)
    )
    counts: dict[int, dict[Health, int]] = defaultdict(lambda: dict.fromkeys(HEALTH_ORDER, 0))
    http: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # [checked, alive]
    for row in conn.execute(counted):
        health = _health(row.health)
        counts[row.article_id][health] += int(row.n)
        if row.kind == LinkKind.HTTP.value and health not in (
            Health.UNCHECKED,
            Health.NOT_APPLICABLE,
        ):
            http[row.article_id][0] += int(row.n)
            if health is Health.ALIVE:
                http[row.article_id][1] += int(row.n)
    out = []
    for row in rows:
        checked, alive = http[row.id]
        out.append(
            ArticleSummary(
                id=row.id,
                location=row.location,
                title=row.title,
                published=_as_date(row.published) if row.published else None,
                source_url=row.source_url,
                active=bool(row.active),
                counts=dict(counts[row.id]),
                score=round(100.0 * alive / checked, 1) if checked else None,
            )
        )
    return out


def link_timelines(
    session: Session | Connection, link_ids: Sequence[int], *, now: datetime
) -> dict[int, tuple[tuple[Availability, ...], tuple[DayCell, ...]]]:
    """Availability windows and the 90-day strip of a few links (e.g. the dashboard's link page)."""
    conn = session.connection() if isinstance(session, Session) else session
    now = _utc(now) or datetime.now(UTC)
    scope = _Scope(sa.true(), whole_database=False, link_id_list=tuple(link_ids))
    availability = _read_availability(conn, scope, now)
    strips = _read_strips(conn, scope, now)
    return {
        i: (
            availability.get(i) or tuple(Availability(d) for d in WINDOWS),
            _strip(strips.get(i, {}), now.date()),
        )
        for i in link_ids
    }
