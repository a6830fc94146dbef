"""Claiming due links with leases, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.model import Health, Outcome
from service.monitor.health import DeathRule
from service.store import claims
from service.store.db import Database, open_database
from service.store.repo import record_check, sync_article
from service.store.tables import LinkRow
from tests.monitor.helpers import T0, article, result

LEASE = timedelta(minutes=10)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


def seed(db: Database, n: int, location: str = "a.md") -> list[int]:
    urls = [f"http://h{i % 7}.test/p{i}" for i in range(n)]
    with db.session() as s:
        sync_article(s, article(location, urls), T0)
    with db.session() as s:
        return [int(i) for i in s.execute(sa.select(LinkRow.id).order_by(LinkRow.id)).scalars()]


def set_due(db: Database, link_id: int, when: object) -> None:
    with db.session() as s:
        s.execute(
            sa.update(claims.LINKS).where(claims.LINKS.c.id == link_id).values(next_check_at=when)
        )


def test_claim_most_overdue_first_and_lease(db: Database) -> None:
    ids = seed(db, 5)
    for offset, link_id in zip([3, 1, 5, 2, 4], ids, strict=True):
        set_due(db, link_id, T0 - timedelta(hours=offset))
    with db.session() as s:
        got = claims.claim_due(s, "w1", T0, limit=3, lease=LEASE)
    assert [c.id for c in got] == [ids[2], ids[4], ids[0]]
    assert all(c.state.health is Health.UNCHECKED for c in got)
    assert got[0].url == "http://h2.test/p2" and got[0].host == "h2.test"
    with db.session() as s:
        rows = {r.id: r for r in s.execute(sa.select(claims.LINKS)).all()}
        again = claims.claim_due(s, "w2", T0, limit=10, lease=LEASE)
    assert {rows[c.id].lease_owner for c in got} == {"w1"}
    assert all(rows[c.id].lease_expires_at == T0 + LEASE for c in got)
    assert sorted(c.id for c in again) == sorted([ids[1], ids[3]])


def test_not_due_retired_ignored_are_skipped(db: Database) -> None:
    ids = seed(db, 4)
    set_due(db, ids[0], T0 + timedelta(hours=1))
    with db.session() as s:
        s.execute(sa.update(claims.LINKS).where(claims.LINKS.c.id == ids[1]).values(retired=True))
        s.execute(sa.update(claims.LINKS).where(claims.LINKS.c.id == ids[2]).values(ignored=True))
    with db.session() as s:
        assert claims.count_due(s, T0) == 1
        got = claims.claim_due(s, "w", T0, limit=10, lease=LEASE)
    assert [c.id for c in got] == [ids[3]]


def test_expired_lease_is_claimed_again(db: Database) -> None:
    seed(db, 3)
    with db.session() as s:
        first = claims.claim_due(s, "dead-worker", T0, limit=10, lease=LEASE)
    assert len(first) == 3
    with db.session() as s:
        assert (
            claims.claim_due(s, "w2", T0 + LEASE - timedelta(seconds=1), limit=10, lease=LEASE)
            == []
        )
    with db.session() as s:
        second = claims.claim_due(s, "w2", T0 + LEASE, limit=10, lease=LEASE)
    assert sorted(c.id for c in second) == sorted(c.id for c in first)


def test_release_and_finish(db: Database) -> None:
    ids = seed(db, 3)
    with db.session() as s:
        claims.claim_due(s, "w", T0, limit=10, lease=LEASE)
    with db.session() as s:
        assert claims.finish(s, ids[0], "w", T0 + timedelta(days=1))
        assert not claims.finish(s, ids[0], "w", T0 + timedelta(days=2))  # no lease any more
        assert claims.release(s, "other") == 0
        assert claims.release(s, "w", [ids[1]]) == 1
        assert claims.release(s, "w", []) == 0
    with db.session() as s:
        assert claims.lock_if_owned(s, ids[2], "w") is not None
        assert claims.lock_if_owned(s, ids[1], "w") is None
        assert claims.release(s, "w") == 1
    with db.session() as s:
        got = claims.claim_due(s, "w3", T0, limit=10, lease=LEASE)
    assert sorted(c.id for c in got) == [ids[1], ids[2]]  # ids[0] is scheduled tomorrow


def test_lock_if_owned_returns_the_stored_state(db: Database) -> None:
    ids = seed(db, 1)
    with db.session() as s:
        record_check(s, ids[0], result("http://h0.test/p0", Outcome.NOT_FOUND, T0), DeathRule())
    with db.session() as s:
        claims.claim_due(s, "w", T0, limit=1, lease=LEASE)
    with db.session() as s:
        state = claims.lock_if_owned(s, ids[0], "w")
    assert state is not None
    assert state.health is Health.SUSPECT and state.dead_streak == 1 and state.since == T0


def test_a_link_cited_twice_is_one_claim(db: Database) -> None:
    with db.session() as s:
        sync_article(s, article("a.md", ["http://x.test/1", "http://x.test/2"]), T0)
        sync_article(s, article("b.md", ["http://x.test/2", "http://x.test/2"]), T0)
    with db.session() as s:
        got = claims.claim_due(s, "w", T0, limit=10, lease=LEASE)
    assert sorted(c.url for c in got) == ["http://x.test/1", "http://x.test/2"]


def test_per_article_interval_is_the_shortest(db: Database) -> None:
    with db.session() as s:
        sync_article(
            s, article("a.md", ["http://x.test/1", "http://x.test/2"]), T0, interval_hours=6
        )
        sync_article(s, article("b.md", ["http://x.test/2"]), T0, interval_hours=2)
        sync_article(s, article("c.md", ["http://x.test/3"]), T0)
    with db.session() as s:
        got = {c.url: c.interval_hours for c in claims.claim_due(s, "w", T0, limit=10, lease=LEASE)}
    assert got == {"http://x.test/1": 6.0, "http://x.test/2": 2.0, "http://x.test/3": None}


def test_claim_article_fetch_is_won_once(db: Database) -> None:
    with db.session() as s:
        row = sync_article(s, article("https://blog.test/post", []), T0)
        assert row.id is not None
        article_id = row.id
    with db.session() as s:
        assert claims.claim_article_fetch(s, article_id, T0, T0 + timedelta(hours=24))
    with db.session() as s:
        assert not claims.claim_article_fetch(s, article_id, T0, T0 + timedelta(hours=24))
        assert claims.claim_article_fetch(
            s, article_id, T0 + timedelta(hours=24), T0 + timedelta(hours=48)
        )


@pytest.mark.postgres
def test_concurrent_claims_never_overlap(pg_server: str) -> None:
    """Eight threads claiming small batches at once on PostgreSQL: each link exactly once."""
    from tests.conftest import _reset_pg

    _reset_pg(pg_server)
    db = open_database(pg_server)
    try:
        ids = seed(db, 400)
        got: dict[str, list[int]] = {}
        barrier = threading.Barrier(8)

        def worker(name: str) -> None:
            barrier.wait()
            mine: list[int] = []
            while True:
                with db.session() as s:
                    batch = claims.claim_due(s, name, T0, limit=7, lease=LEASE)
                if not batch:
                    break
                mine.extend(c.id for c in batch)
            got[name] = mine

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        every = [i for mine in got.values() for i in mine]
        assert sorted(every) == ids
        assert sum(1 for mine in got.values() if mine) >= 2  # the work was shared
    finally:
        db.dispose()
