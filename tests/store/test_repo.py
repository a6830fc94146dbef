"""The stages' queries: syncing articles, recording checks, reading history (both databases)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from service.errors import StoreError
from service.model import CheckResult, Hop, LinkKind, Outcome
from service.monitor.health import DeathRule
from service.store import repo
from service.store.db import Database
from service.store.tables import CheckRow, LinkRow, OccurrenceRow, TransitionRow
from tests.store.conftest import T0, article, occ

RULE = DeathRule()
H = timedelta(hours=1)


def count(s: Session, model: type) -> int:
    return int(s.exec(select(func.count()).select_from(model)).one())


def link_of(s: Session, url: str) -> LinkRow:
    return repo.links_for_urls(s, [url])[url]


def result(url: str, outcome: Outcome, at: datetime, **kw: object) -> CheckResult:
    return CheckResult(url=url, outcome=outcome, checked_at=at, **kw)


# -- sync_article ------------------------------------------------------------------------------


def test_sync_article_stores_the_article_its_links_and_occurrences(db: Database) -> None:
    a = article(
        "posts/one.md",
        occ(0, "https://example.org/a", "first"),
        occ(1, None, "lost", kind=LinkKind.PLACEHOLDER),
        occ(2, "mailto:me@example.org", "mail", kind=LinkKind.MAILTO),
        occ(3, "https://example.org/a", "again"),
        occ(4, "https://other.example/b?q=1", "other"),
        published=date(2018, 5, 26),
        source_url="https://blog.example/one",
    )
    with db.session() as s:
        row = repo.sync_article(s, a, T0, tags=["news", "rot"], interval_hours=12.0)
    with db.session() as s:
        stored = repo.get_article(s, "posts/one.md")
        assert stored is not None and stored.id == row.id
        assert (stored.title, stored.published, stored.source_url) == (
            "A title",
            date(2018, 5, 26),
            "https://blog.example/one",
        )
        assert stored.tags == "news,rot"
        assert stored.interval_hours == 12.0
        assert stored.added_at == T0 and stored.fetched_at == T0
        assert count(s, LinkRow) == 2  # mailto and placeholder have no link row
        pairs = repo.article_occurrences(s, row.id)
        assert [(o.position, o.anchor_text, o.kind) for o, _ in pairs] == [
            (0, "first", "http"),
            (1, "lost", "placeholder"),
            (2, "mail", "mailto"),
            (3, "again", "http"),
            (4, "other", "http"),
        ]
        links = [link.url if link else None for _, link in pairs]
        assert links == [
            "https://example.org/a",
            None,
            None,
            "https://example.org/a",
            "https://other.example/b?q=1",
        ]
        link = pairs[0][1]
        assert link is not None and pairs[3][1] is not None and link.id == pairs[3][1].id
        assert link.url_hash == hashlib.sha256(b"https://example.org/a").hexdigest()
        assert link.host == "example.org"
        assert link.health == "unchecked"
        assert link.next_check_at == T0 and link.archive_next_at == T0
        assert link.first_seen_at == T0
        assert link.citation_date == date(2018, 5, 26)
        assert link.retired is False


def test_two_articles_citing_one_url_share_one_link(db: Database) -> None:
    url = "https://shared.example/page"
    with db.session() as s:
        repo.sync_article(s, article("a.md", occ(0, url), published=date(2020, 1, 1)), T0)
        repo.sync_article(s, article("b.md", occ(0, url), occ(1, url)), T0 + H)
        assert count(s, LinkRow) == 1
        assert count(s, OccurrenceRow) == 3
        assert link_of(s, url).citation_date == date(2020, 1, 1)
        # an older article citing it moves the citation date back
        repo.sync_article(s, article("c.md", occ(0, url), published=date(2015, 6, 1)), T0 + 2 * H)
        assert link_of(s, url).citation_date == date(2015, 6, 1)
        assert count(s, LinkRow) == 1


def test_citation_date_is_the_first_seen_day_without_published_dates(db: Database) -> None:
    url = "https://nodate.example/"
    with db.session() as s:
        repo.sync_article(s, article("a.md", occ(0, url)), datetime(2026, 2, 3, 23, 0, tzinfo=UTC))
        assert link_of(s, url).citation_date == date(2026, 2, 3)
        # the article's date becomes known later: it wins
        repo.sync_article(
            s, article("a.md", occ(0, url), published=date(2019, 9, 9)), T0 + 40 * 24 * H
        )
        assert link_of(s, url).citation_date == date(2019, 9, 9)


def test_resync_keeps_unchanged_occurrences_and_retires_vanished_ones(db: Database) -> None:
    keep, gone, moved = "https://keep.example/", "https://gone.example/", "https://moved.example/"
    with db.session() as s:
        first = repo.sync_article(
            s, article("a.md", occ(0, keep, "k"), occ(1, gone, "g"), occ(2, moved, "old text")), T0
        )
        article_id = first.id
        before = {o.position: o.id for o, _ in repo.article_occurrences(s, article_id)}
    t1 = T0 + 24 * H
    with db.session() as s:
        repo.sync_article(
            s,
            article(
                "a.md",
                occ(0, keep, "k"),
                occ(1, moved, "new text"),
                occ(2, "https://new.example/", "n"),
            ),
            t1,
        )
    with db.session() as s:
        active = repo.article_occurrences(s, article_id)
        assert [(o.position, o.anchor_text) for o, _ in active] == [
            (0, "k"),
            (1, "new text"),
            (2, "n"),
        ]
        assert active[0][0].id == before[0]  # unchanged row kept
        assert active[0][0].first_seen_at == T0
        assert active[1][0].first_seen_at == t1
        everything = repo.article_occurrences(s, article_id, include_inactive=True)
        retired = [(o.anchor_text, o.retired_at) for o, _ in everything if not o.active]
        assert sorted(retired) == [("g", t1), ("old text", t1)]  # history kept, never deleted
        links = repo.links_for_urls(s, [keep, gone, moved, "https://new.example/"])
        assert {u: link.retired for u, link in links.items()} == {
            keep: False,
            gone: True,  # nobody cites it any more
            moved: False,  # still cited, at another position
            "https://new.example/": False,
        }
        assert links["https://new.example/"].next_check_at == t1


def test_a_retired_link_cited_again_is_unretired_and_due(db: Database) -> None:
    url = "https://comeback.example/"
    with db.session() as s:
        repo.sync_article(s, article("a.md", occ(0, url)), T0)
        link_id = link_of(s, url).id
        s.exec(sa.update(LinkRow).where(LinkRow.id == link_id).values(next_check_at=T0 + 100 * H))
        repo.sync_article(s, article("a.md"), T0 + H)
        assert link_of(s, url).retired is True
    t2 = T0 + 48 * H
    with db.session() as s:
        repo.sync_article(s, article("b.md", occ(0, url)), t2)
    with db.session() as s:
        link = link_of(s, url)
        assert link.retired is False
        assert link.id == link_id  # the same row: its history continues
        assert link.next_check_at == t2


def test_resync_of_an_unchanged_article_changes_nothing(db: Database) -> None:
    a = article("a.md", occ(0, "https://x.example/"), occ(1, None, "#", kind=LinkKind.PLACEHOLDER))
    with db.session() as s:
        repo.sync_article(s, a, T0)
        ids = sorted(o.id for o in s.exec(select(OccurrenceRow)))
    with db.session() as s:
        repo.sync_article(s, a, T0 + H)
        assert sorted(o.id for o in s.exec(select(OccurrenceRow))) == ids
        assert all(o.active for o in s.exec(select(OccurrenceRow)))


def test_tags_and_interval_are_kept_unless_given(db: Database) -> None:
    with db.session() as s:
        repo.sync_article(s, article("a.md"), T0, tags=["x", " y ", "x"], interval_hours=6.0)
        row = repo.sync_article(s, article("a.md"), T0 + H)
        assert (row.tags, row.interval_hours) == ("x,y", 6.0)
        row = repo.sync_article(s, article("a.md"), T0 + 2 * H, tags=(), interval_hours=None)
        assert (row.tags, row.interval_hours) == ("", None)


def test_naive_timestamps_are_refused(db: Database) -> None:
    with db.session() as s, pytest.raises(ValueError, match="aware"):
        repo.sync_article(s, article("a.md"), datetime(2026, 1, 1))


def test_remove_article_keeps_history_and_retires_orphans(db: Database) -> None:
    own, shared = "https://own.example/", "https://shared.example/"
    with db.session() as s:
        a = repo.sync_article(s, article("a.md", occ(0, own), occ(1, shared)), T0)
        repo.sync_article(s, article("b.md", occ(0, shared)), T0)
    with db.session() as s:
        removed = repo.remove_article(s, str(a.id), now=T0 + H)  # by id, as the CLI passes it
        assert removed is not None and removed.location == "a.md"
        assert repo.remove_article(s, "nope.md") is None
    with db.session() as s:
        assert [r.location for r in repo.list_articles(s)] == ["b.md"]
        assert [r.location for r in repo.list_articles(s, include_inactive=True)] == [
            "a.md",
            "b.md",
        ]
        assert repo.article_occurrences(s, a.id) == []
        assert len(repo.article_occurrences(s, a.id, include_inactive=True)) == 2
        links = repo.links_for_urls(s, [own, shared])
        assert (links[own].retired, links[shared].retired) == (True, False)
    with db.session() as s:  # added again: watched again
        repo.sync_article(s, article("a.md", occ(0, own)), T0 + 2 * H)
        assert repo.get_article(s, "a.md").active is True
        assert link_of(s, own).retired is False


def test_get_article_by_id_or_location(db: Database) -> None:
    with db.session() as s:
        row = repo.sync_article(s, article("https://blog.example/post"), T0)
        assert repo.get_article(s, row.id) is row
        assert repo.get_article(s, "https://blog.example/post") is row
        assert repo.get_article(s, "12345") is None


# -- record_check ------------------------------------------------------------------------------


def _one_link(db: Database, url: str = "https://farm.example/page") -> int:
    with db.session() as s:
        repo.sync_article(s, article("a.md", occ(0, url)), T0)
        link_id = link_of(s, url).id
    assert link_id is not None
    return link_id


def _record(
    db: Database, link_id: int, outcome: Outcome, at: datetime, **kw: object
) -> TransitionRow | None:
    with db.session() as s:
        check, transition = repo.record_check(s, link_id, result("u", outcome, at, **kw), RULE)
        assert check.id is not None and check.outcome == outcome.value
        return transition


def _health(db: Database, link_id: int) -> tuple[str, int]:
    with db.session() as s:
        link = s.get(LinkRow, link_id)
        assert link is not None
        return link.health, link.dead_streak


def test_record_check_writes_history_and_transitions_only_on_change(db: Database) -> None:
    link_id = _one_link(db)
    hops = (
        Hop("http://farm.example/page", 301, "https://farm.example/page"),
        Hop("https://farm.example/page", 200),
    )
    t = T0 + H
    first = _record(
        db,
        link_id,
        Outcome.OK,
        t,
        http_status=200,
        final_url="https://farm.example/page",
        hops=hops,
        latency_ms=42,
        warnings=("fragment #x not found",),
    )
    assert first is not None and (first.from_health, first.to_health) == ("unchecked", "alive")
    assert _record(db, link_id, Outcome.OK, t + H) is None
    with db.session() as s:
        link = s.get(LinkRow, link_id)
        assert link is not None
        assert (link.health, link.health_since, link.last_checked_at) == ("alive", t, t + H)
        assert link.last_outcome == "ok"
        history = repo.link_history(s, link_id)
        assert [c.checked_at for c in history] == [t, t + H]
        assert repo.hops_from_json(history[0].redirect_chain) == hops
        assert repo.warnings_from_json(history[0].warnings) == ("fragment #x not found",)
        assert (history[0].http_status, history[0].latency_ms) == (200, 42)
        assert repo.link_history(s, link_id, since=t + H) == [history[1]]
        transitions = s.exec(select(TransitionRow)).all()
        assert len(transitions) == 1 and transitions[0].check_id == history[0].id
        assert transitions[0].at == t and transitions[0].outcome == "ok"


def test_dead_only_after_three_dead_signals_spanning_24_hours(db: Database) -> None:
    link_id = _one_link(db)
    assert _record(db, link_id, Outcome.OK, T0) is not None  # alive
    t = T0 + 10 * H
    to_suspect = _record(db, link_id, Outcome.NOT_FOUND, t)
    assert to_suspect is not None and (to_suspect.from_health, to_suspect.to_health) == (
        "alive",
        "suspect",
    )
    assert _record(db, link_id, Outcome.NOT_FOUND, t + 12 * H) is None
    assert _record(db, link_id, Outcome.TIMEOUT, t + 13 * H) is None  # transient: no verdict
    assert _record(db, link_id, Outcome.NOT_FOUND, t + 23 * H) is None  # 3 signals, only 23 h
    assert _health(db, link_id) == ("suspect", 3)
    dead = _record(db, link_id, Outcome.DNS_ERROR, t + 24 * H)
    assert dead is not None and (dead.from_health, dead.to_health, dead.outcome) == (
        "suspect",
        "dead",
        "dns_error",
    )
    assert _health(db, link_id) == ("dead", 4)
    with db.session() as s:
        link = s.get(LinkRow, link_id)
        assert (
            link is not None and link.dead_streak_started == t and link.health_since == t + 24 * H
        )
    back = _record(db, link_id, Outcome.OK, t + 30 * H)
    assert back is not None and (back.from_health, back.to_health) == ("dead", "alive")
    assert _health(db, link_id) == ("alive", 0)


def test_two_dead_signals_days_apart_are_not_enough(db: Database) -> None:
    link_id = _one_link(db)
    _record(db, link_id, Outcome.NOT_FOUND, T0)
    _record(db, link_id, Outcome.NOT_FOUND, T0 + 72 * H)
    assert _health(db, link_id) == ("suspect", 2)
    assert _record(db, link_id, Outcome.NOT_FOUND, T0 + 73 * H) is not None
    assert _health(db, link_id) == ("dead", 3)


def test_offline_is_recorded_and_changes_nothing(db: Database) -> None:
    link_id = _one_link(db)
    _record(db, link_id, Outcome.NOT_FOUND, T0)
    with db.session() as s:
        before = s.get(LinkRow, link_id).model_dump()
    assert _record(db, link_id, Outcome.OFFLINE, T0 + 30 * H, error="canaries failed") is None
    with db.session() as s:
        after = s.get(LinkRow, link_id).model_dump()
        assert after == before
        history = repo.link_history(s, link_id)
        assert [(c.outcome, c.error) for c in history] == [
            ("not_found", None),
            ("offline", "canaries failed"),
        ]
        assert count(s, TransitionRow) == 1  # unchecked -> suspect only


def test_record_checks_batch_reschedules_and_releases_leases(db: Database) -> None:
    urls = [f"https://batch.example/{i}" for i in range(30)]
    with db.session() as s:
        repo.sync_article(s, article("a.md", *(occ(i, u) for i, u in enumerate(urls))), T0)
        ids = {u: link.id for u, link in repo.links_for_urls(s, urls).items()}
        s.exec(sa.update(LinkRow).values(lease_owner="w1", lease_expires_at=T0 + H))
    t = T0 + H
    results = {
        ids[u]: result(
            u, Outcome.OK if i % 3 else Outcome.NOT_FOUND, t, http_status=200 if i % 3 else 404
        )
        for i, u in enumerate(urls)
    }
    nxt = {
        link_id: t + (24 if r.outcome is Outcome.OK else 1) * H for link_id, r in results.items()
    }
    with db.session() as s:
        out = repo.record_checks(s, results, RULE, worker="w1", next_check_at=nxt)
        assert sorted(out) == sorted(results)
        assert all(t_row is not None for _, t_row in out.values())  # all moved off "unchecked"
    with db.session() as s:
        links = {link.id: link for link in s.exec(select(LinkRow))}
        for link_id, r in results.items():
            link = links[link_id]
            assert link.health == ("alive" if r.outcome is Outcome.OK else "suspect")
            assert link.next_check_at == nxt[link_id]
            assert link.lease_owner is None and link.lease_expires_at is None
            assert link.last_status == r.http_status
        assert count(s, CheckRow) == 30 and count(s, TransitionRow) == 30
        assert {c.worker for c in s.exec(select(CheckRow))} == {"w1"}


def test_a_lease_of_another_worker_is_left_alone(db: Database) -> None:
    link_id = _one_link(db)
    with db.session() as s:
        s.exec(sa.update(LinkRow).values(lease_owner="other", lease_expires_at=T0 + H))
    with db.session() as s:
        repo.record_check(s, link_id, result("u", Outcome.OK, T0), RULE, worker="me")
    with db.session() as s:
        assert s.get(LinkRow, link_id).lease_owner == "other"


def test_recording_a_check_of_an_unknown_link_fails(db: Database) -> None:
    with db.session() as s, pytest.raises(StoreError, match="no link with id 4242"):
        repo.record_check(s, 4242, result("u", Outcome.OK, T0), RULE)


def test_stored_datetimes_read_back_aware_utc(db: Database) -> None:
    link_id = _one_link(db)
    _record(db, link_id, Outcome.NOT_FOUND, T0 + H)
    with db.session() as s:
        link = s.get(LinkRow, link_id)
        check = repo.link_history(s, link_id)[0]
        transition = s.exec(select(TransitionRow)).one()
        stamps = [
            link.first_seen_at,
            link.health_since,
            link.dead_streak_started,
            link.next_check_at,
            check.checked_at,
            transition.at,
        ]
        assert all(ts is not None and ts.tzinfo is UTC for ts in stamps)


# -- bulk behaviour: a bounded number of statements, whatever the size ---------------------------


def _count_statements(db: Database) -> list[str]:
    seen: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_sync_article_uses_a_bounded_number_of_statements(db: Database) -> None:
    urls = [f"https://bulk{i % 400}.example/p{i}" for i in range(1200)]
    big = article(
        "big.md", *(occ(i, u, f"t{i}") for i, u in enumerate(urls)), published=date(2020, 1, 1)
    )
    seen = _count_statements(db)
    with db.session() as s:
        repo.sync_article(s, big, T0)
    assert len(seen) < 40, seen[:50]
    with db.session() as s:
        assert count(s, LinkRow) == 1200 and count(s, OccurrenceRow) == 1200
    seen.clear()
    with db.session() as s:
        repo.sync_article(s, big, T0 + H)  # unchanged: reads only
    assert len(seen) < 20


def test_record_checks_uses_a_bounded_number_of_statements(db: Database) -> None:
    urls = [f"https://many.example/{i}" for i in range(300)]
    with db.session() as s:
        repo.sync_article(s, article("a.md", *(occ(i, u) for i, u in enumerate(urls))), T0)
        ids = [link.id for link in repo.links_for_urls(s, urls).values()]
    seen = _count_statements(db)
    with db.session() as s:
        repo.record_checks(
            s, {i: result("u", Outcome.OK, T0 + H) for i in ids if i is not None}, RULE
        )
    assert len(seen) < 20, len(seen)
