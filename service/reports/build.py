"""Build the report model from the database in a fixed, small number of queries (no N+1).

Queries: articles; occurrences joined to their links; availability per link (raw checks and
daily roll-ups, history.py); snapshots; the newest drift verdict per link; the warnings of
each link's last check (e.g. a missing `#anchor`); and, with `history=True`, the worst outcome
per link per day over the last 90 days (history.py). A publication with 200,000 occurrences or
10,000 links with a year of daily checks is read in about a second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from service.drift.verdict import drift_score
from service.errors import UsageError
from service.model import Health, LinkKind, Outcome
from service.reports.history import Strips, StripText, read_availability, read_strips
from service.reports.model import (
    DRIFT_VERDICTS,
    HEALTH_ORDER,
    WINDOWS,
    ArchiveRef,
    Availability,
    DayCell,
    LinkReport,
    Report,
    make_article_report,
    occurrence_warnings,
)
from service.store.repo import warnings_from_json
from service.store.tables import ALL_TABLES

ARTICLES = ALL_TABLES[0].metadata.tables["articles"]
LINKS = ALL_TABLES[0].metadata.tables["links"]
OCCURRENCES = ALL_TABLES[0].metadata.tables["occurrences"]
CHECKS = ALL_TABLES[0].metadata.tables["checks"]
SNAPSHOTS = ALL_TABLES[0].metadata.tables["snapshots"]
DRIFT = ALL_TABLES[0].metadata.tables["drift_checks"]


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
    availability = read_availability(conn, scope.restrict, now) if link_ids else {}
    snapshots = _read_snapshots(conn, scope) if link_ids else {}
    drift = _read_drift(conn, scope) if link_ids else {}
    warnings = _read_warnings(conn, scope) if link_ids else {}
    strips = read_strips(conn, scope.restrict, now) if history and link_ids else {}
    days = Strips(now.date()) if history else None

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
                days=days,
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
    offline checks never move it), for the links whose last check has any.

    Read link by link (a subquery seeking `ix_checks_link_time`), not as a join from `checks`:
    the planners cannot tell how few checks carry warnings and scan the whole table for them."""
    last = (
        sa.select(CHECKS.c.warnings)
        .where(
            CHECKS.c.link_id == LINKS.c.id,
            CHECKS.c.checked_at == LINKS.c.last_checked_at,
            CHECKS.c.warnings.is_not(None),
        )
        .order_by(CHECKS.c.id.desc())  # two checks at the same instant: the later row wins
        .limit(1)
        .scalar_subquery()
    )
    query = sa.select(LINKS.c.id, last).where(
        LINKS.c.last_checked_at.is_not(None), scope.restrict(LINKS.c.id)
    )
    return {
        link_id: warnings_from_json(text)
        for link_id, text in conn.execute(query)
        if text is not None
    }


_NO_CHECKS = tuple(Availability(d) for d in WINDOWS)


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
    strips: dict[int, StripText],
    days: Strips | None,
) -> LinkReport:
    """One occurrence row as a LinkReport; `days` decodes the strips (None: no history)."""
    link_id: int | None = row.link_id
    health = _health(row.health) if link_id is not None else Health.NOT_APPLICABLE
    outcome = _outcome_or_none(row.last_outcome)
    archive = snapshots.get((link_id, "citation")) if link_id is not None else None
    latest = snapshots.get((link_id, "latest")) if link_id is not None else None
    compared = drift.get(link_id) if link_id is not None else None
    windows: tuple[Availability, ...] = ()
    strip: tuple[DayCell, ...] = ()
    if link_id is not None:
        windows = availability.get(link_id) or _NO_CHECKS
        if days is not None:
            strip = days.strip(strips.get(link_id))
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
        days=strip,
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
    availability = read_availability(conn, scope.restrict, now)
    strips = read_strips(conn, scope.restrict, now)
    days = Strips(now.date())
    return {i: (availability.get(i) or _NO_CHECKS, days.strip(strips.get(i))) for i in link_ids}
