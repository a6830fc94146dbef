"""The report model read from a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.errors import UsageError
from service.model import Health, LinkKind, Outcome
from service.reports import build_report
from service.reports.build import article_summaries, link_timelines
from service.store.db import open_database
from tests.conftest import _reset_pg
from tests.reports.sample import HOSTILE, NOW, fill_sample


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The sample database, filled once per backend for this module (the tests only read)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'lw.db'}"
    else:
        url = request.getfixturevalue("pg_server")
        _reset_pg(url)
    db = open_database(url)
    with db.session() as session:
        ids = fill_sample(session)
    yield db, ids
    db.dispose()


def test_articles_links_sorted_broken_first_with_counts_and_score(filled) -> None:
    db, ids = filled
    with db.session() as session:
        report = build_report(session, now=NOW)
    a, b = report.articles
    assert (a.id, a.location, a.title) == (
        ids.article_a,
        "articles/a.md",
        "Trump & Kim: <the talks>",
    )
    assert [lk.health for lk in a.links] == [
        Health.DEAD,
        Health.ALIVE,
        Health.ALIVE,
        Health.ALIVE,
        Health.NOT_APPLICABLE,
        Health.NOT_APPLICABLE,
        Health.NOT_APPLICABLE,
    ]
    assert [lk.position for lk in a.links] == [1, 0, 4, 5, 2, 3, 6]
    assert a.counts[Health.DEAD] == 1 and a.counts[Health.ALIVE] == 3
    assert a.counts[Health.NOT_APPLICABLE] == 3 and a.total == 7
    assert a.score == 75.0  # 3 of the 4 checked http links are alive
    assert [lk.health for lk in b.links] == [Health.DEAD, Health.SUSPECT, Health.UNKNOWN]
    assert b.score == 0.0


def test_link_fields_last_check_archive_moved_and_risk(filled) -> None:
    db, _ids = filled
    with db.session() as session:
        report = build_report(session, now=NOW)
    by_url = {lk.url: lk for lk in report.articles[0].links if lk.url}
    dead = by_url["https://gone.example/story"]
    assert dead.anchor_text == HOSTILE and dead.href == "https://gone.example/story"
    assert dead.kind is LinkKind.HTTP and dead.line == 5
    assert dead.outcome is Outcome.NOT_FOUND and dead.http_status == 404
    assert dead.checked_at == NOW - timedelta(hours=2)
    # third dead signal, 24 h after the first: confirmed dead two days ago
    assert dead.since == NOW - timedelta(days=2, hours=2)
    assert dead.archive is not None and dead.archive.url.endswith(
        "/20180526093000/https://gone.example/story"
    )
    assert dead.archive_latest is not None and dead.archive_latest.timestamp.year == 2024
    assert not dead.at_risk
    moved = by_url["https://moved.example/old"]
    assert moved.moved_to == "https://moved.example/new" and moved.archive is None
    assert moved.archive_latest is not None and not moved.at_risk
    assert by_url["https://alive.example/page"].at_risk
    assert by_url["https://flaky.example/"].at_risk  # a stored "never archived" is no capture
    placeholder = next(lk for lk in report.articles[0].links if lk.href == "#")
    assert (
        placeholder.url is None and placeholder.link_id is None and placeholder.availability == ()
    )
    mailto = next(lk for lk in report.articles[0].links if lk.kind is LinkKind.MAILTO)
    assert mailto.health is Health.NOT_APPLICABLE


def test_availability_windows_exclude_offline_checks(filled) -> None:
    db, _ = filled
    with db.session() as session:
        report = build_report(session, now=NOW)
    by_url = {lk.url: lk for lk in report.articles[0].links if lk.url}
    dead = by_url["https://gone.example/story"]
    # one check a day: 5 days of 404, before that ok
    assert (dead.window(7).checks, dead.window(7).alive) == (7, 2)
    assert (dead.window(30).checks, dead.window(30).alive) == (30, 25)
    assert dead.window(90).uptime == round(100 * 85 / 90, 1)
    flaky = by_url["https://flaky.example/"]
    # day 20 was offline: not counted; timeouts on days 3, 13, 23 within 30 days
    assert flaky.window(30).checks == 29 and flaky.window(30).alive == 26


def test_history_strip_has_90_days_worst_outcome_first(filled) -> None:
    db, ids = filled
    with db.session() as session:
        report = build_report(session, now=NOW, history=True)
        plain = build_report(session, now=NOW)
    assert all(lk.days == () for lk in plain.links)
    by_url = {lk.url: lk for lk in report.articles[0].links if lk.url}
    days = by_url["https://gone.example/story"].days
    assert (
        len(days) == 90
        and days[-1].day == NOW.date()
        and days[0].day == NOW.date() - timedelta(days=89)
    )
    assert [c.worst for c in days[-5:]] == [Outcome.NOT_FOUND] * 5
    assert days[-6].worst is Outcome.OK and days[-1].checks == 1
    flaky = by_url["https://flaky.example/"].days
    assert flaky[-4].worst is Outcome.TIMEOUT
    assert flaky[-21].worst is Outcome.OFFLINE
    suspect = next(lk for lk in report.articles[1].links if lk.url == "https://suspect.example/p")
    # two checks today: a 503 then a 404; the day's worst is the dead signal
    assert suspect.days[-1].worst is Outcome.NOT_FOUND and suspect.days[-1].checks == 2
    blocked = next(lk for lk in report.articles[1].links if lk.url == "https://blocked.example/x")
    assert blocked.days[0].worst is None and blocked.days[0].checks == 0
    gone = ids.links["https://gone.example/story"]
    with db.engine.connect() as conn:
        timelines = link_timelines(conn, [gone], now=NOW)
    assert timelines[gone][1] == days


def test_filters_by_article_and_health(filled) -> None:
    db, ids = filled
    with db.session() as session:
        only_b = build_report(session, article_ids=[ids.article_b], now=NOW)
        broken = build_report(session, health={Health.DEAD, Health.SUSPECT}, now=NOW)
        with pytest.raises(UsageError, match="no article with id 999"):
            build_report(session, article_ids=[999], now=NOW)
    assert [a.id for a in only_b.articles] == [ids.article_b]
    assert [(lk.article, lk.health) for lk in broken.links] == [
        ("articles/a.md", Health.DEAD),
        ("https://blog.example/post", Health.DEAD),
        ("https://blog.example/post", Health.SUSPECT),
    ]


def test_article_summaries_match_the_full_report(filled) -> None:
    db, _ = filled
    with db.session() as session:
        report = build_report(session, now=NOW)
        summaries = article_summaries(session)
    assert [(s.id, s.counts, s.score) for s in summaries] == [
        (a.id, a.counts, a.score) for a in report.articles
    ]
