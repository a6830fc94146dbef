"""Politeness, measured on the server side: per-host concurrency, interval, Retry-After, backoff."""

from __future__ import annotations

import asyncio
import itertools

from service.checks.checker import Checker
from service.model import Outcome
from tests.support.farm import LinkFarm
from tests.verdicts.conftest import settings_for

SLACK_S = 0.005  # scheduling slack, on the server's clock only


async def test_two_per_host_and_100ms_apart_as_seen_by_the_servers(zoo_farm: LinkFarm) -> None:
    settings = settings_for(zoo_farm, per_host_concurrency=2, timeout_s=10)
    urls = [
        zoo_farm.url(f"/page/{i}", host=host)
        for host in ("polite.test", "polite2.test")
        for i in range(8)
    ]
    async with Checker(settings, per_host_interval_s=0.1) as checker:
        results = await checker.check_many(urls)
    assert all(r.outcome is Outcome.OK for r in results.values())
    for host in ("polite.test", "polite2.test"):
        seen = [r for r in zoo_farm.requests if r.host == host]
        assert len(seen) >= 9  # 8 links and at least one soft-404 probe, all counted
        assert zoo_farm.max_concurrency(host) <= 2
        gap = zoo_farm.min_gap(host)
        assert gap is not None and gap >= 0.1 - SLACK_S, f"{host}: {gap:.4f} s"


async def test_retry_after_holds_the_whole_host(zoo_farm: LinkFarm) -> None:
    # One request at a time on the host, so none is already on its way when a 429 arrives.
    settings = settings_for(zoo_farm, timeout_s=6, per_host_concurrency=1)
    urls = [zoo_farm.url("/limited", host="limited.test")]
    urls += [zoo_farm.url(f"/page/{i}", host="limited.test") for i in range(4)]
    async with Checker(settings) as checker:
        first = asyncio.create_task(checker.check(urls[0]))
        await asyncio.sleep(0.2)  # the 429 has arrived; now the others
        rest = await checker.check_many(urls[1:])
        limited = await first
    assert limited.outcome is Outcome.RATE_LIMITED and limited.retry_after_s == 2.0
    assert all(r.outcome is Outcome.OK for r in rest.values())
    records = sorted(
        (r for r in zoo_farm.requests if r.host == "limited.test"), key=lambda r: r.started
    )
    answers_429 = [r for r in records if r.path == "/limited"]
    assert len(answers_429) == 3  # two retries, each 2 s later as asked, within the deadline
    for r429 in answers_429:
        assert r429.ended is not None
        quiet = [r for r in records if r429.ended < r.started < r429.ended + 2.0 - SLACK_S]
        assert not quiet, [(q.method, q.path, round(q.started - r429.ended, 4)) for q in quiet]


async def test_backoff_after_5xx_grows_and_resets(zoo_farm: LinkFarm) -> None:
    settings = settings_for(zoo_farm, timeout_s=10, retries=2, retry_backoff_s=0.2)
    async with Checker(settings) as checker:
        flaky = await checker.check(zoo_farm.url("/flaky", host="polite2.test"))
        assert checker.limiter.backoff_failures("polite2.test") == 4
        ok = await checker.check(zoo_farm.url("/page/x", host="polite2.test"))
        assert checker.limiter.backoff_failures("polite2.test") == 0
    assert flaky.outcome is Outcome.SERVER_ERROR and ok.outcome is Outcome.OK
    starts = [r.started for r in zoo_farm.requests if r.path == "/flaky"]
    assert len(starts) == 4  # HEAD, GET, then two retries (GET)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # Each 5xx holds the host twice as long as the one before: 0.2 s, 0.4 s, 0.8 s.
    assert [g >= want - SLACK_S for g, want in zip(gaps, (0.2, 0.4, 0.8))] == [True] * 3, gaps


async def test_one_url_is_never_requested_twice_at_once(zoo_farm: LinkFarm) -> None:
    settings = settings_for(zoo_farm, per_host_concurrency=4)
    url = zoo_farm.url("/page/same", host="polite.test")
    async with Checker(settings) as checker:
        await asyncio.gather(*(checker.check(url) for _ in range(5)))
        # Two different checks ending at the same URL (a redirect target) take turns too.
        await asyncio.gather(
            checker.check(zoo_farm.url("/old", host="moved.test")),
            checker.check(zoo_farm.url("/temp", host="moved.test")),
        )
    for path in ("/page/same", "/new"):
        seen = sorted((r for r in zoo_farm.requests if r.path == path), key=lambda r: r.started)
        assert seen and len(seen) <= 2  # one check (HEAD, maybe GET), not five
        for a, b in itertools.pairwise(seen):
            assert a.ended is not None and b.started >= a.ended, f"{path} overlapped"
