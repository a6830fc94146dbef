"""Drift in the report (issue 11 §3): the newest verdict per link, in every format, `--drift`,
and a fixed number of queries whatever the number of links (SQLite file and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.cli.app import run
from service.model import Health
from service.reports import build_report, only_drifted, render
from service.store.db import Database, open_database
from tests.conftest import _reset_pg
from tests.reports.driftsample import ALIVE, ALIVE_CAPTURE, FLAKY, GONE, MOVED, add_drift
from tests.reports.sample import NOW, SampleIds, fill_sample

DriftedDb = tuple[Database, SampleIds, str]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def drifted_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DriftedDb]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('drift-report') / 'lw.db'}"
    else:
        url = request.getfixturevalue("pg_server")
        _reset_pg(url)
    db = open_database(url)
    with db.session() as session:
        ids = fill_sample(session)
        add_drift(session, ids)
    yield db, ids, url
    db.dispose()


def test_newest_verdict_and_score_per_link(drifted_db: DriftedDb) -> None:
    db, _, _ = drifted_db
    with db.session() as session:
        report = build_report(session, now=NOW)
    by_url = {lk.url: lk for lk in report.links if lk.url}
    # a failed comparison yesterday does not hide the verdict of 5 days ago
    alive = by_url[ALIVE]
    assert (alive.drift, alive.drift_score, alive.drifted) == ("drifted", 0.55, True)
    assert alive.drift_checked_at is not None and (NOW - alive.drift_checked_at).days == 5
    assert (by_url[FLAKY].drift, by_url[FLAKY].drift_score) == ("replaced", 0.95)
    assert (by_url[MOVED].drift, by_url[MOVED].drifted) == ("same", False)
    assert by_url[MOVED].drift_score == 0.03
    assert by_url[GONE].drift == "drifted"  # compared before it died: the fact is kept
    assert not by_url[GONE].drifted  # ... but it is no news: dead wins
    never = by_url["https://blocked.example/x"]
    assert (never.drift, never.drift_score, never.drift_checked_at) == (None, None, None)
    placeholder = next(lk for lk in report.links if lk.href == "#")
    assert placeholder.drift is None


def test_every_format_shows_drift(drifted_db: DriftedDb) -> None:
    db, ids, _ = drifted_db
    with db.session() as session:
        report = build_report(session, article_ids=[ids.article_a], now=NOW, history=True)
    listed = json.loads(render(report, "json"))
    objects = {o["url"]: o for o in listed}
    assert objects[ALIVE]["drift"] == "drifted" and objects[ALIVE]["drift_score"] == 0.55
    assert objects[MOVED]["drift"] == "same" and objects[MOVED]["drift_score"] == 0.03
    assert objects[GONE]["drift"] == "drifted"
    assert objects[ALIVE]["drift_checked_at"] == "2024-05-27T12:00:00Z"
    assert all(o["drift"] is None for o in listed if o["link_id"] is None)

    table = render(report, "table", width=160)
    assert "content drifted since cited (drift score 0.55)" in table
    assert "content replaced since cited (now about something else) (drift score 0.95)" in table
    assert "as cited: " + ALIVE_CAPTURE in table  # what the author saw
    assert "content still as cited" not in table  # `same` is no news in the terminal

    md = render(report, "markdown")
    assert "| Drift | Archived copy |" in md
    assert "**drifted (0.55)**" in md and "**replaced (0.95)**" in md and "| same (0.03) |" in md

    html = render(report, "html")
    assert 'data-health="alive" data-drift="drifted"' in html
    assert "content drifted 0.55</span>" in html and "content replaced 0.95</span>" in html
    assert "As cited (what the author saw): " in html and ALIVE_CAPTURE in html
    assert "Content still as cited (drift score 0.03), compared 2024-05-30 12:00" in html


def test_only_drifted_keeps_alive_drifted_links_most_drifted_first(drifted_db: DriftedDb) -> None:
    db, ids, _ = drifted_db
    with db.session() as session:
        report = only_drifted(build_report(session, health={Health.ALIVE}, now=NOW))
    assert [a.id for a in report.articles] == [ids.article_a]
    assert [(lk.url, lk.drift) for lk in report.links] == [
        (FLAKY, "replaced"),
        (ALIVE, "drifted"),
    ]
    assert report.articles[0].counts[Health.ALIVE] == 2


@pytest.mark.parametrize("history", [False, True])
def test_build_report_runs_a_fixed_number_of_queries(drifted_db: DriftedDb, history: bool) -> None:
    db, ids, _ = drifted_db
    statements: list[str] = []

    def count(*args: Any) -> None:
        statement = args[2]
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.session() as session:
            build_report(session, now=NOW, history=history)
            whole = len(statements)
            statements.clear()
            build_report(session, article_ids=[ids.article_b], now=NOW, history=history)
            one = len(statements)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    # articles, occurrences, availability (raw checks and daily roll-ups in one statement),
    # snapshots, drift, last-check warnings (+ 1 for the strips, raw and rolled-up too)
    expected = 7 if history else 6
    assert (whole, one) == (expected, expected), statements
    assert sum("drift_checks" in s for s in statements) == 1
    assert sum("checks.warnings" in s for s in statements) == 1


def test_linkwatch_report_drift(
    drifted_db: DriftedDb,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, url = drifted_db
    config = tmp_path / "linkwatch.toml"
    config.write_text("")
    monkeypatch.setenv("LINKWATCH_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", url)
    assert run(["report", "--drift", "--format", "json"]) == 0
    objects = json.loads(capsys.readouterr().out)
    assert [(o["url"], o["drift"], o["health"]) for o in objects] == [
        (FLAKY, "replaced", "alive"),
        (ALIVE, "drifted", "alive"),
    ]
    assert run(["report", "--drift"]) == 0
    table = capsys.readouterr().out
    assert table.index("flaky site") < table.index("an alive page")
    assert "moved page" not in table and "same dead story" not in table
    # no alive link within --health dead: nothing to show, not an error
    assert run(["report", "--drift", "--health", "dead", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    # the filtered HTML report has no by-year section (its shares would describe the filter)
    out = tmp_path / "drift.html"
    assert run(["report", "--drift", "--format", "html", "--output", str(out)]) == 0
    assert 'id="by-year"' not in out.read_text(encoding="utf-8")
    assert run(["report", "--format", "html", "--output", str(out)]) == 0
    assert 'id="by-year"' in out.read_text(encoding="utf-8")


def test_html_by_year_section_matches_the_publication_report(drifted_db: DriftedDb) -> None:
    from service.reports.publication import publication_report, years_of_report

    db, _, _ = drifted_db
    with db.session() as session:
        report = build_report(session, now=NOW, history=True)
        by_year = publication_report(session, "year", now=NOW)
    rows = years_of_report(report.articles)
    assert [(r.year, r.articles, r.counts) for r in rows] == [
        (r.year, r.articles, r.counts) for r in by_year.rows
    ]
    # 2018: a.md (alive, dead, moved, flaky: 1 dead of 4); 2020: the blog post (dead, blocked,
    # suspect: 1 dead of 3)
    assert [(r.year, r.counts.dead, r.counts.checked) for r in rows] == [(2018, 1, 4), (2020, 1, 3)]
    html = render(report, "html")
    assert html.index('id="by-year"') < html.index('class="article" id="article-')
    assert 'data-year="2018" data-share="0.2500"' in html
    assert '<tr data-year="2020"><td>2020</td><td>1</td><td>3</td><td>3</td><td>1</td>' in html
    assert 'id="by-year"' not in render(report, "html", by_year=False)
