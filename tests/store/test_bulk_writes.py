"""The bulk writes of syncing and recording: each row gets its own id, every value comes back
exactly, links found by URL are locked in id order, and no step scans a table (both databases).

New rows' ids come back from INSERT ... RETURNING in no promised order (matched by link or
URL hash); PostgreSQL gets the rows as one JSON document, which its column types read back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from service.model import CheckResult, Hop, LinkKind, Outcome
from service.monitor.health import DeathRule
from service.store import repo
from service.store.db import Database
from service.store.tables import CheckRow, LinkRow, OccurrenceRow, TransitionRow
from tests.store.conftest import T0, article, occ

RULE = DeathRule()
H = timedelta(hours=1)


def _synced(db: Database, urls: list[str]) -> dict[str, int]:
    with db.session() as s:
        repo.sync_article(s, article("a.md", *(occ(i, u) for i, u in enumerate(urls))), T0)
        return {u: link.id for u, link in repo.links_for_urls(s, urls).items() if link.id}


def _results(urls: list[str], at: datetime) -> dict[str, CheckResult]:
    """A distinct time and outcome per URL, so a row given to the wrong link shows."""
    return {
        u: CheckResult(
            u,
            Outcome.OK if i % 3 else Outcome.NOT_FOUND,
            at + timedelta(seconds=i, microseconds=i),
            http_status=200 if i % 3 else 404,
            latency_ms=i,
        )
        for i, u in enumerate(urls)
    }


def test_each_link_of_a_batch_gets_its_own_check_and_transition(db: Database) -> None:
    urls = [f"https://own.example/{i}" for i in range(40)]
    ids = _synced(db, urls)
    with db.session() as s:  # earlier checks of every other link: new ids interleave with them
        repo.record_checks_bulk(s, {ids[u]: r for u, r in _results(urls[::2], T0).items()}, RULE)
    first = _results(urls[:20], T0 + H)
    second = _results(urls[20:], T0 + 2 * H)
    with db.session() as s:
        by_id = repo.record_checks_bulk(s, {ids[u]: r for u, r in first.items()}, RULE)
        by_url = repo.record_checks_by_url(s, second, RULE)
        objects = repo.record_checks(
            s, {ids[u]: r for u, r in _results(urls[:5], T0 + 3 * H).items()}, RULE
        )
    with db.session() as s:
        checks = {c.id: c for c in s.exec(select(CheckRow))}
        transitions = {t.id: t for t in s.exec(select(TransitionRow))}
    recorded = [(ids[u], r, by_id[ids[u]]) for u, r in first.items()]
    recorded += [(ids[u], r, by_url[u]) for u, r in second.items()]
    for link_id, result, done in recorded:
        check = checks[done.check_id]
        assert (check.link_id, check.checked_at, check.latency_ms) == (
            link_id,
            result.checked_at,
            result.latency_ms,
        )
        if done.transition_id is not None:
            transition = transitions[done.transition_id]
            assert (transition.link_id, transition.check_id) == (link_id, done.check_id)
            assert transition.at == result.checked_at
    assert any(d.transition_id is not None for _, _, d in recorded)
    for link_id, (check_row, moved) in objects.items():
        assert check_row.id is not None and checks[check_row.id].link_id == link_id
        if moved is not None:
            assert moved.id is not None and transitions[moved.id].check_id == check_row.id


def test_recording_by_url_writes_what_recording_by_id_writes(db: Database) -> None:
    """record_checks_by_url (linkwatch check) and record_checks_bulk: the same rows and states,
    and a URL without a link is left out."""
    twins = [(f"https://a.example/{i}", f"https://b.example/{i}") for i in range(12)]
    ids = _synced(db, [u for pair in twins for u in pair])
    for k in range(3):  # through several states: unchecked, alive/suspect, ...
        at = T0 + (k + 1) * 13 * H
        a = _results([x for x, _ in twins], at)
        b = {y: replace(a[x], url=y) for x, y in twins}
        with db.session() as s:
            repo.record_checks_bulk(s, {ids[u]: r for u, r in a.items()}, RULE)
            unknown = replace(a[twins[0][0]], url="https://unknown.example/")
            done = repo.record_checks_by_url(s, {**b, unknown.url: unknown}, RULE)
        assert set(done) == set(b)
    with db.session() as s:
        links = {link.url: link for link in s.exec(select(LinkRow))}
        history = {u: repo.link_history(s, ids[u]) for pair in twins for u in pair}
        moves = {
            u: [
                (t.at, t.from_health, t.to_health, t.outcome)
                for t in s.exec(
                    select(TransitionRow)
                    .where(TransitionRow.link_id == ids[u])
                    .order_by(TransitionRow.id)  # type: ignore[arg-type]
                )
            ]
            for pair in twins
            for u in pair
        }
    state = (
        "health",
        "health_since",
        "dead_streak",
        "dead_streak_started",
        "last_checked_at",
        "last_outcome",
        "last_status",
        "last_final_url",
        "next_check_at",
    )
    check = ("checked_at", "outcome", "http_status", "final_url", "redirect_chain", "latency_ms")
    for x, y in twins:
        assert [getattr(links[x], f) for f in state] == [getattr(links[y], f) for f in state]
        assert [[getattr(c, f) for f in check] for c in history[x]] == [
            [getattr(c, f) for f in check] for c in history[y]
        ]
        assert moves[x] == moves[y] and moves[x]
    assert "https://unknown.example/" not in links


def test_every_value_comes_back_exactly(db: Database) -> None:
    """Text of any kind, datetimes in any zone (to the microsecond), dates, booleans, nulls."""
    odd = 'quote " backslash \\ tab \t newline \n bell \x07 accents éß 中文 emoji 😀 </script>'
    url = "https://exämple.test/päth?q=ü#frag"
    zone = timezone(timedelta(hours=5, minutes=30))
    now = datetime(2026, 1, 10, 17, 29, 59, 999999, tzinfo=zone)
    a = article(
        "odd.md",
        occ(0, url, odd, href=url + "#x"),
        occ(1, None, "", kind=LinkKind.PLACEHOLDER),
        published=date(1999, 12, 31),
    )
    checked = datetime(2026, 1, 11, 0, 0, 0, 1, tzinfo=zone)
    result = CheckResult(
        url,
        Outcome.NOT_FOUND,
        checked,
        http_status=404,
        final_url=url + "/ä",
        hops=(Hop(url, 301, url + "/ä"), Hop(url + "/ä", 404)),
        latency_ms=7,
        error=odd,
        warnings=("fragment #ä not found", odd),
    )
    with db.session() as s:
        repo.sync_article(s, a, now)
        done = repo.record_checks_by_url(s, {url: result}, RULE)
    with db.session() as s:
        link = s.exec(select(LinkRow)).one()
        occurrences = s.exec(select(OccurrenceRow).order_by(OccurrenceRow.position)).all()  # type: ignore[arg-type]
        check = s.exec(select(CheckRow)).one()
        transition = s.exec(select(TransitionRow)).one()
    assert (link.url, link.host, link.citation_date) == (url, "exämple.test", date(1999, 12, 31))
    assert link.first_seen_at == now and link.next_check_at == now
    assert link.first_seen_at is not None and link.first_seen_at.tzinfo is UTC
    assert (link.retired, link.ignored, link.health, link.health_since) == (
        False,
        False,
        "suspect",
        checked,
    )
    assert [(o.href, o.anchor_text, o.kind, o.link_id, o.active) for o in occurrences] == [
        (url + "#x", odd, "http", link.id, True),
        ("#", "", "placeholder", None, True),
    ]
    assert occurrences[0].first_seen_at == now and occurrences[0].retired_at is None
    assert (check.checked_at, check.error, check.final_url, check.worker) == (
        checked,
        odd,
        url + "/ä",
        None,
    )
    assert repo.hops_from_json(check.redirect_chain) == result.hops
    assert repo.warnings_from_json(check.warnings) == result.warnings
    assert (transition.id, transition.check_id, transition.at) == (
        done[url].transition_id,
        check.id,
        checked,
    )
    if db.dialect == "sqlite":  # the text SQLAlchemy's own DATETIME binding writes
        with db.engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT checked_at FROM checks")).scalar_one()
        assert stored == "2026-01-10 18:30:00.000001"


@pytest.mark.postgres
def test_a_value_too_long_for_its_column_is_refused_not_cut(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    ids = _synced(db, ["https://long.example/"])
    result = _results(["https://long.example/"], T0)["https://long.example/"]
    with pytest.raises(sa.exc.DataError), db.session() as s:
        repo.record_checks_bulk(s, {ids[result.url]: result}, RULE, worker="w" * 129)
    with db.session() as s:
        assert s.exec(select(CheckRow)).all() == []


# -- PostgreSQL: locking order and plans -----------------------------------------------------


def _record_by_url(s: Session, results: dict[str, CheckResult], ids: dict[str, int]) -> None:
    repo.record_checks_by_url(s, results, RULE)


def _record_by_id(s: Session, results: dict[str, CheckResult], ids: dict[str, int]) -> None:
    repo.record_checks_bulk(s, {ids[u]: r for u, r in results.items()}, RULE)


RECORDERS = [("by url", _record_by_url), ("by id", _record_by_id)]


@pytest.mark.postgres
@pytest.mark.parametrize(("name", "record"), RECORDERS, ids=[n for n, _ in RECORDERS])
def test_links_are_locked_one_after_the_other_in_id_order(
    pg_db: Database,
    name: str,
    record: Callable[[Session, dict[str, CheckResult], dict[str, int]], None],
) -> None:
    """While it waits for the lowest id (held by another transaction), a recorder holds no
    other link: whatever the order of the URLs' hashes, it locks in id order, as the daemon's
    claims do, so the two never deadlock."""
    urls = [f"https://lock.example/{i}" for i in range(20)]
    ids = _synced(pg_db, urls)
    lowest = min(ids.values())
    hash_of = {link_id: repo.url_hash(u) for u, link_id in ids.items()}
    assert min(hash_of.values()) < hash_of[lowest]  # hash order would lock another one first
    errors: list[BaseException] = []
    with pg_db.engine.connect() as holder:
        holder.execute(sa.text("SELECT id FROM links WHERE id = :i FOR UPDATE"), {"i": lowest})

        def recorder() -> None:
            try:
                with pg_db.session() as s:
                    record(s, _results(urls, T0 + H), ids)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=recorder)
        thread.start()
        with pg_db.engine.connect() as probe:
            deadline = time.monotonic() + 10
            while not probe.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar():
                assert time.monotonic() < deadline, "the recorder never waited for the lock"
                # pg_stat_activity is read once per transaction: a new one sees it anew
                probe.rollback()
                time.sleep(0.02)
            free = probe.execute(
                sa.text(
                    "SELECT count(*) FROM (SELECT id FROM links WHERE id <> :i "
                    "FOR UPDATE SKIP LOCKED) AS free"
                ),
                {"i": lowest},
            ).scalar()
            probe.rollback()
        assert free == len(urls) - 1
        holder.rollback()  # lets the recorder go on
        thread.join(10)
    assert not thread.is_alive() and not errors
    with pg_db.session() as s:
        assert len(s.exec(select(CheckRow)).all()) == len(urls)


def _seq_scans(s: Session) -> dict[str, int]:
    query = sa.text("SELECT pg_stat_get_xact_numscans(CAST(:t AS regclass))")
    tables = ("links", "checks", "transitions", "occurrences")
    return {t: int(s.execute(query, {"t": t}).scalar_one()) for t in tables}


@pytest.mark.postgres
@pytest.mark.parametrize(("name", "record"), RECORDERS, ids=[n for n, _ in RECORDERS])
def test_recording_scans_no_table_under_generic_plans(
    pg_db: Database,
    name: str,
    record: Callable[[Session, dict[str, CheckResult], dict[str, int]], None],
) -> None:
    """Every statement prepared at once and planned generically on nearly empty tables (the
    worst case, see test_keyed.py): syncing and recording still look each row up by index."""
    urls = [f"https://plan.example/{i}" for i in range(300)]
    with pg_db.session() as s:
        s.connection().connection.driver_connection.prepare_threshold = 0  # type: ignore[union-attr]
        s.execute(sa.text("SET plan_cache_mode = force_generic_plan"))
        repo.sync_article(s, article("seed.md", occ(0, "https://seed.example/")), T0)
        repo.record_checks_by_url(s, _results(["https://seed.example/"], T0), RULE)
        before = _seq_scans(s)
        repo.sync_article(s, article("a.md", *(occ(i, u) for i, u in enumerate(urls))), T0)
        ids = repo.link_ids_for_urls(s, urls)
        for k in range(3):  # the later rounds reuse the plans the first one cached
            record(s, _results(urls, T0 + (k + 1) * H), ids)
        after = _seq_scans(s)
    assert {t: after[t] - before[t] for t in after} == dict.fromkeys(after, 0)
