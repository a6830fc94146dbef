"""Stored lookups (SQLite and PostgreSQL): upserts, failures that keep captures, the schedule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from service.archive.lookup import ArchiveClient
from service.archive.sweep import refresh_archives
from service.model import ArchiveInfo, Capture
from service.store import snapshots as store
from service.store.db import Database, open_database
from service.store.repo import url_hash, url_host
from service.store.tables import LinkRow
from tests.archive.conftest import fast_limits, settings_for
from tests.support.fake_wayback import FailStatus, FakeCapture, FakeWayback

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


def add_link(
    db: Database,
    url: str,
    *,
    health: str = "alive",
    cited: date | None = None,
    archive_next_at: datetime | None = None,
) -> int:
    with db.session() as s:
        row = LinkRow(
            url=url,
            url_hash=url_hash(url),
            host=url_host(url),
            health=health,
            citation_date=cited,
            first_seen_at=NOW - timedelta(days=400),
            archive_next_at=archive_next_at,
        )
        s.add(row)
        s.flush()
        assert row.id is not None
        return row.id


class WallClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def capture(url: str, ts: str) -> Capture:
    when = datetime.strptime(ts, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return Capture(url, when, f"http://wb.test/web/{ts}/{url}", 200)


def test_answers_and_failures(db: Database) -> None:
    url = "https://example.com/a"
    link = add_link(db, url)
    found = ArchiveInfo(url, capture(url, "20180101000000"), capture(url, "20230101000000"), NOW)
    with db.session() as s:
        store.store_archive_info(s, link, found)
    later = NOW + timedelta(days=31)
    with db.session() as s:
        store.store_archive_info(
            s, link, ArchiveInfo(url, None, None, later, error="archive timeout")
        )
    with db.session() as s:
        rows = store.snapshots_for_links(s, [link])[link]
        next_at = s.get(LinkRow, link).archive_next_at  # type: ignore[union-attr]
    # the failure kept the known captures (and the time of that answer)
    assert rows["citation"].found and rows["citation"].archive_url == found.citation.archive_url  # type: ignore[union-attr]
    assert rows["latest"].captured_at == datetime(2023, 1, 1, tzinfo=UTC)
    assert rows["latest"].looked_up_at == NOW
    assert rows["latest"].error == "archive timeout"
    assert next_at == later + timedelta(hours=1)  # a failure is retried sooner

    with db.session() as s:  # a new answer clears the error
        store.store_archive_info(s, link, ArchiveInfo(url, None, None, later))
        rows = store.snapshots_for_links(s, [link])[link]
        next_at = s.get(LinkRow, link).archive_next_at  # type: ignore[union-attr]
    assert [(r.found, r.error, r.archive_url) for r in rows.values()] == [(False, None, None)] * 2
    assert next_at == later + timedelta(days=30)


def test_never_archived_then_failure_is_unknown(db: Database) -> None:
    url = "https://example.com/never"
    link = add_link(db, url)
    with db.session() as s:
        store.store_archive_info(s, link, ArchiveInfo(url, None, None, NOW))
        never = store.archive_info_from_rows(url, store.snapshots_for_links(s, [link])[link])
    assert never is not None and (never.citation, never.latest, never.error) == (None, None, None)
    with db.session() as s:
        store.store_archive_info(
            s, link, ArchiveInfo(url, None, None, NOW, error="archive error: HTTP 503")
        )
        unknown = store.archive_info_from_rows(url, store.snapshots_for_links(s, [link])[link])
    assert unknown is not None and unknown.error == "archive error: HTTP 503"


def test_due_links_and_marking(db: Database) -> None:
    new = add_link(db, "https://example.com/new", archive_next_at=None)
    fresh = add_link(db, "https://example.com/fresh", archive_next_at=NOW + timedelta(days=10))
    stale = add_link(
        db,
        "https://example.com/stale",
        archive_next_at=NOW - timedelta(days=1),
        cited=date(2019, 5, 1),
    )
    with db.session() as s:
        due = store.links_due_for_archive(s, NOW, 10)
    assert [d.link_id for d in due] == [new, stale]
    assert due[1].citation_date == date(2019, 5, 1)
    assert due[0].citation_date == (NOW - timedelta(days=400)).date()  # first seen
    with db.session() as s:  # claimed: not handed out twice
        assert store.links_due_for_archive(s, NOW, 10) == []
        store.mark_archive_due(s, fresh, NOW)  # e.g. it turned suspect
        assert [d.link_id for d in store.links_due_for_archive(s, NOW, 10)] == [fresh]
    with db.session() as s:  # an unfinished claim expires
        later = NOW + timedelta(seconds=store.DEFAULT_LEASE_S + 1)
        assert {d.link_id for d in store.links_due_for_archive(s, later, 10)} == {new, stale, fresh}


async def test_second_run_within_refresh_window_makes_no_archive_calls(
    db: Database, wayback: FakeWayback
) -> None:
    urls = [f"https://example.com/p{i}" for i in range(3)]
    for u in urls:
        add_link(db, u, cited=date(2020, 1, 1))
    wayback.add_capture(urls[0], FakeCapture("20190101000000"))
    wayback.add_capture(urls[0], FakeCapture("20230101000000"))
    clock = WallClock(NOW)
    client = ArchiveClient(settings_for(wayback), limits=fast_limits(), clock=clock)

    first = await refresh_archives(db.session, client, now=clock(), urls=urls)
    assert set(first) == set(urls)
    calls = wayback.count()
    assert calls > 0
    clock.at = NOW + timedelta(days=29)
    again = await refresh_archives(db.session, client, now=clock(), urls=urls)
    assert again == {}
    assert wayback.count() == calls  # nothing asked of the archive

    with db.session() as s:
        ids = list(s.exec(select(LinkRow.id).order_by(LinkRow.id)))  # type: ignore[arg-type]
        rows = store.snapshots_for_links(s, [i for i in ids if i is not None])
    first_rows = rows[ids[0]]  # type: ignore[index]
    assert first_rows["citation"].captured_at == datetime(2019, 1, 1, tzinfo=UTC)
    assert first_rows["latest"].captured_at == datetime(2023, 1, 1, tzinfo=UTC)
    assert not rows[ids[1]]["latest"].found  # type: ignore[index]

    clock.at = NOW + timedelta(days=31)
    refreshed = await refresh_archives(db.session, client, now=clock(), limit=10)
    assert set(refreshed) == set(urls)  # the refresh is due after refresh_days
    assert wayback.count() > calls


async def test_failed_lookups_are_retried_sooner(db: Database, wayback: FakeWayback) -> None:
    url = "https://example.com/flaky"
    add_link(db, url)
    wayback.add_capture(url, FakeCapture("20200101000000"))
    clock = WallClock(NOW)
    client = ArchiveClient(settings_for(wayback), limits=fast_limits(), clock=clock)
    wayback.fail_with(FailStatus(503), endpoints=["cdx", "available"])
    failed = await refresh_archives(db.session, client, now=clock())
    assert failed[url].error is not None
    wayback.heal()
    clock.at = NOW + timedelta(minutes=30)
    assert await refresh_archives(db.session, client, now=clock()) == {}
    clock.at = NOW + timedelta(minutes=61)
    healed = await refresh_archives(db.session, client, now=clock())
    assert healed[url].latest is not None
