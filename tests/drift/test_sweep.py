"""Drift sweeps against real servers: the link farm (live pages), the fake Wayback Machine
(captures), and a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from service.archive.limiter import ArchiveLimits
from service.drift.job import drift_job
from service.drift.sweep import DriftStats, drift_sweep
from service.drift.verdict import Verdict
from service.model import ArchiveInfo, CheckResult, Outcome
from service.monitor.daemon import JobContext
from service.settings import Settings
from service.store import drift as store
from service.store import repo, snapshots
from service.store.db import Database
from tests.drift import pages
from tests.drift.conftest import (
    CAPTURE_TS,
    CAPTURED_AT,
    RULE,
    SCENARIOS,
    T0,
    T1,
    LivePages,
    fast_limits,
    make_settings,
    seed,
)
from tests.support.fake_wayback import FailRateLimit, FailStatus, FakeCapture, FakeWayback
from tests.support.farm import LinkFarm


async def sweep(
    db: Database,
    settings: Settings,
    client: httpx.AsyncClient,
    limits: ArchiveLimits,
    now: datetime,
    **kw: Any,
) -> DriftStats:
    return await drift_sweep(
        db, settings, now, client=client, archive_limits=limits, limit="all", **kw
    )


def verdicts(stats: DriftStats, ids: dict[str, int]) -> dict[str, Verdict]:
    by_id = {v: k for k, v in ids.items()}
    return {by_id[r.link_id]: r.verdict for r in stats.results}


async def test_each_kind_of_change_gets_its_verdict(
    db: Database, farm: LinkFarm, wayback: FakeWayback, client: httpx.AsyncClient
) -> None:
    settings = make_settings(farm, wayback)
    ids = seed(db, farm, wayback.base_url, list(SCENARIOS))
    limits = fast_limits()

    stats = await sweep(db, settings, client, limits, T1)

    assert verdicts(stats, ids) == {
        "/drift/unchanged": Verdict.SAME,
        "/drift/comments": Verdict.SAME,
        "/drift/rewritten": Verdict.DRIFTED,
        "/drift/unrelated": Verdict.REPLACED,
        "/drift/parked": Verdict.REPLACED,
        "/drift/lost-capture": Verdict.ERROR,
    }
    assert (stats.same, stats.drifted, stats.replaced, stats.errors) == (2, 1, 2, 1)
    # One archive request per comparison, each through the archive limiter; raw (id_) captures.
    assert wayback.count("playback") == 6
    assert limits.lookups.granted == 6
    assert all(f"/web/{CAPTURE_TS}id_/" in h.path_qs for h in wayback.hits)
    assert farm.count(host="farm.test") == 6

    with db.session() as session:
        latest = store.latest_drift(session, ids.values())
        with_errors = store.latest_drift(session, ids.values(), include_errors=True)
    assert set(latest) == {ids[p] for p in SCENARIOS if p != "/drift/lost-capture"}
    same = latest[ids["/drift/unchanged"]]
    assert (same.cosine, same.containment, same.title_similarity) == (1.0, 1.0, 1.0)
    assert same.capture_timestamp == CAPTURED_AT and same.checked_at == T1
    assert same.word_count_capture == same.word_count_live and same.word_count_live > 200
    parked = latest[ids["/drift/parked"]]
    assert parked.word_count_live is not None and parked.word_count_capture is not None
    assert parked.word_count_live < 0.3 * parked.word_count_capture
    lost = with_errors[ids["/drift/lost-capture"]]
    assert lost.verdict == "error" and lost.error == "capture: HTTP 404"
    assert lost.cosine is None


async def test_schedule_interval_retry_and_recovery(
    db: Database, farm: LinkFarm, wayback: FakeWayback, client: httpx.AsyncClient
) -> None:
    settings = make_settings(farm, wayback, interval_days=30, retry_hours=6)
    ids = seed(db, farm, wayback.base_url, ["/drift/unchanged", "/drift/lost-capture"])
    limits = fast_limits()
    first = await sweep(db, settings, client, limits, T1)
    assert [r.verdict for r in first.results] == [Verdict.SAME, Verdict.ERROR]

    # Nothing is due an hour later: no request to the site nor to the archive.
    before = wayback.count()
    again = await sweep(db, settings, client, limits, T1 + timedelta(hours=1))
    assert again.claimed == 0 and wayback.count() == before

    # The capture that could not be fetched is retried after retry_hours (the archive has it now).
    wayback.add_capture(
        farm.url("/drift/lost-capture"), FakeCapture(CAPTURE_TS, body=pages.original())
    )
    retry = await sweep(db, settings, client, limits, T1 + timedelta(hours=7))
    assert verdicts(retry, ids) == {"/drift/lost-capture": Verdict.SAME}
    assert retry.results[0].previous is None

    # A link that comes back from dead is compared at once, whatever the interval.
    link_id = ids["/drift/unchanged"]
    url = farm.url("/drift/unchanged")
    with db.session() as session:
        repo.record_check(
            session, link_id, CheckResult(url, Outcome.NOT_FOUND, T1 + timedelta(days=2), 404), RULE
        )
        _, back = repo.record_check(
            session, link_id, CheckResult(url, Outcome.OK, T1 + timedelta(days=3), 200), RULE
        )
    assert back is not None and (back.from_health, back.to_health) == ("dead", "alive")
    revived = await sweep(db, settings, client, limits, T1 + timedelta(days=3, hours=1))
    assert verdicts(revived, ids) == {"/drift/unchanged": Verdict.SAME}
    assert revived.results[0].previous is Verdict.SAME

    # Every link again after interval_days.
    monthly = await sweep(db, settings, client, limits, T1 + timedelta(days=40))
    assert sorted(verdicts(monthly, ids)) == ["/drift/lost-capture", "/drift/unchanged"]


async def test_a_page_that_changes_later_is_reported_with_its_previous_verdict(
    db: Database, farm: LinkFarm, wayback: FakeWayback, client: httpx.AsyncClient, live: LivePages
) -> None:
    settings = make_settings(farm, wayback)
    ids = seed(db, farm, wayback.base_url, ["/drift/unchanged"])
    limits = fast_limits()
    await sweep(db, settings, client, limits, T1)
    live.pages["/drift/unchanged"] = pages.rewritten()
    later = await sweep(db, settings, client, limits, T1 + timedelta(days=31))
    (result,) = later.results
    assert (result.previous, result.verdict, result.changed) == (
        Verdict.SAME,
        Verdict.DRIFTED,
        True,
    )
    with db.session() as session:
        history = store.drift_history(session, ids["/drift/unchanged"])
    assert [h.verdict for h in history] == ["same", "drifted"]


async def test_unusable_live_page_costs_no_archive_request(
    db: Database, farm: LinkFarm, wayback: FakeWayback, client: httpx.AsyncClient, live: LivePages
) -> None:
    settings = make_settings(farm, wayback)
    ids = seed(db, farm, wayback.base_url, ["/drift/unchanged"])
    live.pages["/drift/unchanged"] = 503
    stats = await sweep(db, settings, client, fast_limits(), T1)
    assert [(r.verdict, r.error) for r in stats.results] == [(Verdict.ERROR, "live page: HTTP 503")]
    assert wayback.count("playback") == 0
    with db.session() as session:
        assert store.latest_drift(session, ids.values()) == {}


async def test_archive_failure_gives_no_verdict_and_is_retried(
    db: Database, farm: LinkFarm, wayback: FakeWayback, client: httpx.AsyncClient
) -> None:
    settings = make_settings(farm, wayback, retry_hours=2)
    seed(db, farm, wayback.base_url, ["/drift/rewritten"])
    limits = fast_limits()
    wayback.fail_with(FailStatus(503), endpoints=["playback"])
    failed = await sweep(db, settings, client, limits, T1)
    assert [(r.verdict, r.error) for r in failed.results] == [(Verdict.ERROR, "capture: HTTP 503")]
    wayback.heal()
    assert (await sweep(db, settings, client, limits, T1 + timedelta(hours=1))).claimed == 0
    healed = await sweep(db, settings, client, limits, T1 + timedelta(hours=3))
    assert [r.verdict for r in healed.results] == [Verdict.DRIFTED]


async def test_archive_rate_limit_stops_the_sweep_and_releases_the_rest(
    db: Database, farm: LinkFarm, wayback: FakeWayback, client: httpx.AsyncClient
) -> None:
    settings = make_settings(farm, wayback)
    ids = seed(
        db, farm, wayback.base_url, ["/drift/unchanged", "/drift/rewritten", "/drift/parked"]
    )
    limits = fast_limits()
    wayback.fail_with(FailRateLimit(retry_after="120"), endpoints=["playback"])
    stats = await sweep(db, settings, client, limits, T1)
    assert stats.results == [] and stats.claimed == 3 and stats.released == 3
    assert stats.stopped is not None and "429" in stats.stopped
    assert wayback.count("playback") == 1  # stopped at the first 429
    assert limits.gate.remaining() > 60  # every archive call is paused now
    with db.session() as session:
        assert store.latest_drift(session, ids.values(), include_errors=True) == {}

    # While paused: no claim, no request at all.
    farm_before = farm.count()
    paused = await sweep(db, settings, client, limits, T1 + timedelta(minutes=1))
    assert paused.claimed == 0 and paused.stopped is not None
    assert wayback.count("playback") == 1 and farm.count() == farm_before

    # After the pause the released links are due at once.
    wayback.heal()
    fresh = fast_limits()
    resumed = await sweep(db, settings, client, fresh, T1 + timedelta(minutes=5))
    assert set(verdicts(resumed, ids).values()) == {Verdict.SAME, Verdict.DRIFTED, Verdict.REPLACED}


async def test_only_alive_links_with_a_citation_capture_and_article_filter(
    db: Database, farm: LinkFarm, wayback: FakeWayback, client: httpx.AsyncClient
) -> None:
    settings = make_settings(farm, wayback)
    ids = seed(
        db, farm, wayback.base_url, ["/drift/unchanged", "/drift/rewritten", "/drift/parked"]
    )
    with db.session() as session:
        # /drift/rewritten turns dead, /drift/parked loses its capture ("never archived").
        url = farm.url("/drift/rewritten")
        repo.record_check(
            session, ids["/drift/rewritten"], CheckResult(url, Outcome.NOT_FOUND, T0, 404), RULE
        )
        snapshots.store_archive_info(
            session, ids["/drift/parked"], ArchiveInfo(farm.url("/drift/parked"), None, None, T0)
        )
        article = repo.get_article(session, "articles/drift.md")
        assert article is not None and article.id is not None
        article_id = article.id
    other = await sweep(db, settings, client, fast_limits(), T1, article_id=article_id + 1000)
    assert other.claimed == 0
    stats = await sweep(db, settings, client, fast_limits(), T1, article_id=article_id)
    assert verdicts(stats, ids) == {"/drift/unchanged": Verdict.SAME}


async def test_claims_keep_other_workers_away(
    db: Database, farm: LinkFarm, wayback: FakeWayback
) -> None:
    ids = seed(db, farm, wayback.base_url, ["/drift/unchanged", "/drift/rewritten"])
    kw = {"interval": timedelta(days=30), "retry": timedelta(hours=24)}
    with db.session() as session:
        mine = store.claim_due_drift(session, T1, limit=1, **kw)
    with db.session() as session:
        theirs = store.claim_due_drift(session, T1, **kw)
    with db.session() as session:
        nobody = store.claim_due_drift(session, T1, **kw)
    assert [c.link_id for c in mine] + [c.link_id for c in theirs] == sorted(ids.values())
    assert nobody == []
    assert mine[0].archive_url.endswith(f"/web/{CAPTURE_TS}/{farm.url('/drift/unchanged')}")
    with db.session() as session:
        assert store.release_drift_claims(session, [mine[0].check_id]) == 1
    with db.session() as session:
        again = store.claim_due_drift(session, T1, **kw)
    assert [c.link_id for c in again] == [mine[0].link_id]


async def test_daemon_job_runs_a_sweep_only_when_enabled(
    db: Database, farm: LinkFarm, wayback: FakeWayback
) -> None:
    seed(db, farm, wayback.base_url, ["/drift/rewritten"])

    def ctx(settings: Settings) -> JobContext:
        return JobContext(settings, db, "test-worker", lambda: T1, asyncio.Event())

    assert await drift_job(ctx(make_settings(farm, wayback, enabled=False))) is None
    assert wayback.count() == 0 and farm.count() == 0
    stats = await drift_job(ctx(make_settings(farm, wayback)))
    assert stats is not None and [r.verdict for r in stats.results] == [Verdict.DRIFTED]
    assert wayback.count("playback") == 1
