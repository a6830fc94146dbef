"""The report's per-link history (service.reports.history) on both databases: availability windows
and 90-day strips from raw checks and daily roll-ups, shared strips, last-check warnings, and (on
SQLite) that every statement reaches `checks` link by link through `ix_checks_link_time`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from service.model import Article, ArticleMeta, LinkKind, Occurrence, Outcome
from service.reports import build_report, render
from service.reports.build import link_timelines
from service.reports.html import strip_svg
from service.reports.model import DayCell, LinkReport
from service.store import repo
from service.store.db import Database, open_database
from service.store.tables import ALL_TABLES
from tests.reports.sample import NOW

CHECKS = ALL_TABLES[0].metadata.tables["checks"]
DAILY = ALL_TABLES[0].metadata.tables["check_daily"]
URLS = [f"https://h{i}.example/page" for i in range(7)]
ROLLED, EDGES, TWIN_A, TWIN_B, OTHER, WARNED, OLD_WARNING = URLS
TODAY = NOW.date()


@dataclass(frozen=True)
class Filled:
    db: Database
    links: dict[str, int]


def _check(
    link_id: int, at: datetime, outcome: str, warnings: list[str] | None = None
) -> dict[str, Any]:
    return {
        "link_id": link_id,
        "checked_at": at,
        "outcome": outcome,
        "redirect_chain": "[]",
        "latency_ms": 1,
        "warnings": json.dumps(warnings) if warnings is not None else None,
    }


def _daily(link_id: int, day: date, checks: int, alive: int, worst: str) -> dict[str, Any]:
    return {
        "link_id": link_id,
        "day": day,
        "checks": checks,
        "alive": alive,
        "worst_outcome": worst,
    }


def _twin_history(link_id: int) -> list[dict[str, Any]]:
    """Two checks a day for 100 days, a timeout every tenth day."""
    return [
        _check(link_id, NOW - timedelta(days=d, hours=h), "timeout" if d % 10 == 0 else "ok")
        for d in range(100)
        for h in (3, 9)
    ]


@pytest.fixture
def filled(db_url: str) -> Iterator[Filled]:
    db = open_database(db_url)
    occurrences = tuple(
        Occurrence(
            href=u, anchor_text=f"link {i}", line=i + 1, kind=LinkKind.HTTP, url=u, position=i
        )
        for i, u in enumerate(URLS)
    )
    article = Article(
        location="a.md", format="markdown", meta=ArticleMeta(), occurrences=occurrences
    )
    with db.session() as session:
        repo.sync_article(session, article, NOW - timedelta(days=200))
        session.flush()
        links = {url: row.id for url, row in repo.links_for_urls(session, URLS).items()}
        ids = {url: i for url, i in links.items() if i is not None}
        rows = [
            # today: a raw ok check, and a roll-up of the same day with a 503 (they add up)
            _check(ids[ROLLED], NOW - timedelta(hours=1), "ok"),
            _check(ids[ROLLED], NOW - timedelta(days=1), "not_found"),
            # the 7-day window starts at NOW - 7 days exactly: in, and a microsecond before: out
            _check(ids[EDGES], NOW - timedelta(days=7), "ok"),
            _check(ids[EDGES], NOW - timedelta(days=7, microseconds=1), "not_found"),
            _check(ids[EDGES], NOW - timedelta(hours=2), "offline"),  # no availability, drawn
            _check(ids[EDGES], NOW + timedelta(hours=1), "not_found"),  # after NOW: ignored
            *_twin_history(ids[TWIN_A]),
            *_twin_history(ids[TWIN_B]),
            *_twin_history(ids[OTHER])[1:],  # one check fewer, on the newest day
            # two checks at the instant of the last check: the later row's warnings count
            _check(ids[WARNED], NOW - timedelta(hours=5), "ok", ["fragment #a not found"]),
            _check(ids[WARNED], NOW - timedelta(hours=3), "ok", ["first"]),
            _check(ids[WARNED], NOW - timedelta(hours=3), "ok", ["second"]),
            # warnings of an earlier check, none on the last one
            _check(ids[OLD_WARNING], NOW - timedelta(days=1), "ok", ["stale"]),
            _check(ids[OLD_WARNING], NOW - timedelta(hours=3), "ok"),
        ]
        session.execute(sa.insert(CHECKS), rows)
        session.execute(
            sa.insert(DAILY),
            [
                _daily(ids[ROLLED], TODAY, 2, 1, "server_error"),
                _daily(ids[ROLLED], TODAY - timedelta(days=10), 4, 3, "timeout"),
                _daily(ids[ROLLED], TODAY - timedelta(days=95), 9, 9, "ok"),  # older than 90
            ],
        )
        for url in (WARNED, OLD_WARNING):
            session.execute(
                sa.update(ALL_TABLES[0].metadata.tables["links"])
                .where(sa.column("id") == ids[url])
                .values(last_checked_at=NOW - timedelta(hours=3))
            )
        session.commit()
    yield Filled(db, ids)
    db.dispose()


def _links(filled: Filled, *, history: bool) -> dict[str, LinkReport]:
    with filled.db.session() as session:
        report = build_report(session, now=NOW, history=history)
    return {lk.url or "": lk for lk in report.links}


def _windows(link: LinkReport) -> list[tuple[int, int]]:
    return [(link.window(d).checks, link.window(d).alive) for d in (7, 30, 90)]


def test_daily_roll_ups_add_to_the_raw_checks(filled: Filled) -> None:
    links = _links(filled, history=True)
    rolled = links[ROLLED]
    # 7 days: 2 raw checks (1 alive) + today's roll-up (2, 1 alive); 30 and 90: + day -10
    assert _windows(rolled) == [(4, 2), (8, 5), (8, 5)]
    today, yesterday, ten_days_ago = rolled.days[-1], rolled.days[-2], rolled.days[-11]
    assert (today.day, today.worst, today.checks) == (TODAY, Outcome.SERVER_ERROR, 3)
    assert (yesterday.worst, yesterday.checks) == (Outcome.NOT_FOUND, 1)
    assert (ten_days_ago.day, ten_days_ago.worst, ten_days_ago.checks) == (
        TODAY - timedelta(days=10),
        Outcome.TIMEOUT,
        4,
    )
    assert sum(c.checks for c in rolled.days) == 8


def test_window_edges_offline_and_later_checks(filled: Filled) -> None:
    edges = _links(filled, history=True)[EDGES]
    assert _windows(edges) == [(1, 1), (2, 1), (2, 1)]
    assert edges.days[-1].worst is Outcome.OFFLINE and edges.days[-1].checks == 1
    assert [c.day for c in edges.days if c.worst is not None] == [
        (NOW - timedelta(days=7)).date(),
        TODAY,
    ]


def test_links_with_the_same_history_share_one_strip_drawn_alike(filled: Filled) -> None:
    links = _links(filled, history=True)
    twin_a, twin_b, other = links[TWIN_A], links[TWIN_B], links[OTHER]
    assert twin_a.days is twin_b.days
    assert twin_a.days == (*other.days[:-1], twin_a.days[-1]) and other.days[-1].checks == 1
    assert twin_a.days[-1].worst is Outcome.TIMEOUT and twin_a.days[-1].checks == 2
    assert _windows(twin_a) == [(14, 12), (60, 54), (180, 162)]
    # The HTML report draws a shared strip exactly as a strip of fresh cells.
    fresh = tuple(DayCell(day=c.day, worst=c.worst, checks=c.checks) for c in twin_b.days)
    with filled.db.session() as session:
        html = render(build_report(session, now=NOW, history=True), "html")
    assert html.count(strip_svg(fresh)) == 2
    assert html.count(strip_svg(list(other.days))) == 1
    with filled.db.engine.connect() as conn:
        timelines = link_timelines(conn, [filled.links[TWIN_A], filled.links[ROLLED]], now=NOW)
    assert timelines[filled.links[TWIN_A]] == (twin_a.availability, twin_a.days)
    assert timelines[filled.links[ROLLED]][1] == links[ROLLED].days


def test_warnings_are_the_last_checks_later_row(filled: Filled) -> None:
    links = _links(filled, history=False)
    assert links[WARNED].warnings == ("second",)
    assert links[OLD_WARNING].warnings == ()
    assert all(lk.days == () for lk in links.values())


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # EXPLAIN QUERY PLAN is SQLite's
def test_sqlite_reads_checks_link_by_link(filled: Filled) -> None:
    """No statement of the report scans `checks` or walks it by time: on a table written link
    by link that fetches every row of the window from a different page (seconds at 10,000
    links); a seek of ix_checks_link_time per link reads each link's rows together."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    sa.event.listen(filled.db.engine, "before_cursor_execute", record)
    try:
        with filled.db.session() as session:
            build_report(session, now=NOW, history=True)
            build_report(session, article_ids=[1], now=NOW, history=True)
    finally:
        sa.event.remove(filled.db.engine, "before_cursor_execute", record)
    reading = [(s, p) for s, p in seen if "FROM checks" in s]
    assert len(reading) == 6  # availability, warnings and strips, twice
    with filled.db.engine.connect() as conn:
        for statement, parameters in reading:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            details = [str(row[-1]) for row in plan]
            uses = [d for d in details if " checks " in f"{d} "]
            assert uses, details
            assert all("USING INDEX ix_checks_link_time (link_id=?" in d for d in uses), details
