"""Retention: old checks rolled up per link per day, transitions kept, idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.model import Outcome
from service.monitor.health import DeathRule
from service.store.db import Database, open_database
from service.store.repo import record_check, sync_article
from service.store.retention import cutoff_for, roll_up, worst_outcome
from service.store.tables import CheckDailyRow, CheckRow, LinkRow, TransitionRow
from tests.monitor.helpers import article, result

NOW = datetime(2025, 6, 10, 15, 30, tzinfo=UTC)
OLD_DAY = date(2024, 1, 3)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def links(db: Database, urls: list[str]) -> dict[str, int]:
    with db.session() as s:
        sync_article(s, article("a.md", urls), at(OLD_DAY, 0))
    with db.session() as s:
        return {r.url: r.id for r in s.execute(sa.select(LinkRow.url, LinkRow.id)).all()}


def record(db: Database, link_id: int, url: str, outcome: Outcome, when: datetime) -> None:
    with db.session() as s:
        record_check(s, link_id, result(url, outcome, when), DeathRule())


def daily(db: Database) -> dict[tuple[int, date], tuple[int, int, str]]:
    with db.session() as s:
        rows = s.execute(sa.select(CheckDailyRow)).scalars().all()
        return {(r.link_id, r.day): (r.checks, r.alive, r.worst_outcome) for r in rows}


def test_cutoff_is_midnight_utc() -> None:
    assert cutoff_for(NOW, 400) == datetime(2024, 5, 6, tzinfo=UTC)


def test_worst_outcome_order() -> None:
    assert worst_outcome(["ok", "timeout", "not_found", "blocked"]) == "not_found"
    assert worst_outcome(["ok", "offline"]) == "ok"
    assert worst_outcome(["moved", "server_error", "blocked"]) == "server_error"


def test_roll_up_counts_worst_and_keeps_transitions(db: Database) -> None:
    ids = links(db, ["http://a.test/", "http://b.test/"])
    a, b = ids["http://a.test/"], ids["http://b.test/"]
    day2 = OLD_DAY + timedelta(days=1)
    record(db, a, "http://a.test/", Outcome.OK, at(OLD_DAY, 1))
    record(db, a, "http://a.test/", Outcome.TIMEOUT, at(OLD_DAY, 5))
    record(db, a, "http://a.test/", Outcome.NOT_FOUND, at(OLD_DAY, 23))
    record(db, a, "http://a.test/", Outcome.OK, at(day2, 2))
    record(db, b, "http://b.test/", Outcome.OK, at(OLD_DAY, 3))
    recent = NOW - timedelta(days=3)
    record(db, b, "http://b.test/", Outcome.NOT_FOUND, recent)
    with db.session() as s:
        transitions_before = s.execute(
            sa.select(sa.func.count()).select_from(TransitionRow)
        ).scalar_one()

    res = roll_up(db.session, NOW, 400)
    assert (res.days, res.checks_deleted, res.daily_rows) == (2, 5, 3)
    assert daily(db) == {
        (a, OLD_DAY): (3, 1, "not_found"),
        (a, day2): (1, 1, "ok"),
        (b, OLD_DAY): (1, 1, "ok"),
    }
    with db.session() as s:
        left = s.execute(sa.select(CheckRow.link_id, CheckRow.checked_at)).all()
        transitions = s.execute(sa.select(TransitionRow).order_by(TransitionRow.id)).scalars().all()
    assert [(r.link_id, r.checked_at) for r in left] == [(b, recent)]
    assert (
        len(transitions) == transitions_before == 5
    )  # a: ->alive, ->suspect, ->alive; b: ->alive, ->suspect
    assert [t.check_id is None for t in transitions] == [True, True, True, True, False]

    again = roll_up(db.session, NOW, 400)
    assert (again.days, again.checks_deleted) == (0, 0)
    assert daily(db)[(a, OLD_DAY)] == (3, 1, "not_found")


def test_late_check_of_a_rolled_day_is_merged(db: Database) -> None:
    ids = links(db, ["http://a.test/"])
    a = ids["http://a.test/"]
    record(db, a, "http://a.test/", Outcome.TIMEOUT, at(OLD_DAY, 1))
    roll_up(db.session, NOW, 400)
    record(db, a, "http://a.test/", Outcome.OK, at(OLD_DAY, 2))
    record(db, a, "http://a.test/", Outcome.REFUSED, at(OLD_DAY, 3))
    roll_up(db.session, NOW, 400)
    assert daily(db) == {(a, OLD_DAY): (3, 1, "refused")}


def test_growth_is_bounded_for_a_daily_link(db: Database) -> None:
    """Checked daily for 30 days with 10 days of retention: 10-11 raw rows, the rest rolled up."""
    ids = links(db, ["http://a.test/"])
    a = ids["http://a.test/"]
    start = NOW - timedelta(days=30)
    for d in range(30):
        record(db, a, "http://a.test/", Outcome.OK, start + timedelta(days=d))
    roll_up(db.session, NOW, 10)
    with db.session() as s:
        raw = s.execute(sa.select(sa.func.count()).select_from(CheckRow)).scalar_one()
    assert 10 <= raw <= 11
    assert sum(v[0] for v in daily(db).values()) == 30 - raw


def test_should_stop_interrupts_between_days(db: Database) -> None:
    ids = links(db, ["http://a.test/"])
    a = ids["http://a.test/"]
    for d in range(3):
        record(db, a, "http://a.test/", Outcome.OK, at(OLD_DAY + timedelta(days=d), 1))
    calls = iter([False, True])
    res = roll_up(db.session, NOW, 400, should_stop=lambda: next(calls))
    assert res.days == 1
    assert roll_up(db.session, NOW, 400).days == 2
