"""Which snapshot is chosen, and how failures are told apart from "never archived"."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime

import httpx
from aiohttp import web

from service.archive.limiter import ArchiveLimits
from service.archive.lookup import ARCHIVE_TIMEOUT, ArchiveClient
from tests.archive.conftest import ManualClock, fast_limits, settings_for
from tests.support.fake_wayback import (
    FailRateLimit,
    FailStall,
    FailStatus,
    FakeCapture,
    FakeWayback,
)

URL = "https://example.com/article-source"


def _ts(capture_ts: str) -> datetime:
    return datetime.strptime(capture_ts, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _stock(wb: FakeWayback) -> None:
    for ts, status in [
        ("20150301000000", 200),
        ("20181231120000", 200),
        ("20190110000000", 200),  # after the citation date, closer to it than the 2018 one
        ("20210101000000", 200),
        ("20240101000000", 404),  # the newest capture recorded a 404: no copy of the page
    ]:
        wb.add_capture(URL, FakeCapture(ts, status, body=f"<html>{ts}</html>"))


async def test_last_capture_before_citation_beats_a_closer_newer_one(
    wayback: FakeWayback, client: ArchiveClient
) -> None:
    _stock(wayback)
    info = await client.lookup(URL, date(2019, 1, 5))
    assert info.error is None
    assert info.citation is not None and info.citation.timestamp == _ts("20181231120000")
    assert info.citation.archive_url == f"{wayback.base_url}/web/20181231120000/{URL}"


async def test_newest_capture_skips_404_captures(
    wayback: FakeWayback, client: ArchiveClient
) -> None:
    _stock(wayback)
    info = await client.lookup(URL, date(2019, 1, 5))
    assert info.latest is not None
    assert info.latest.timestamp == _ts("20210101000000")
    assert info.latest.status == 200


async def test_404_capture_before_citation_is_not_chosen(
    wayback: FakeWayback, client: ArchiveClient
) -> None:
    wayback.add_capture(URL, FakeCapture("20100101000000", 200))
    wayback.add_capture(URL, FakeCapture("20190101000000", 404))
    wayback.add_capture(URL, FakeCapture("20220101000000", 200))
    info = await client.lookup(URL, date(2019, 6, 1))
    assert info.citation is not None and info.citation.timestamp == _ts("20100101000000")


async def test_first_capture_after_citation_when_none_before(
    wayback: FakeWayback, client: ArchiveClient
) -> None:
    _stock(wayback)
    info = await client.lookup(URL, date(2010, 1, 1))
    assert info.citation is not None and info.citation.timestamp == _ts("20150301000000")
    assert info.latest is not None and info.latest.timestamp == _ts("20210101000000")


async def test_no_citation_date_means_newest(wayback: FakeWayback, client: ArchiveClient) -> None:
    _stock(wayback)
    info = await client.lookup(URL, None)
    assert info.citation == info.latest
    assert wayback.count("cdx") == 1


async def test_never_archived_is_an_answer(wayback: FakeWayback, client: ArchiveClient) -> None:
    info = await client.lookup("https://never.example/x", date(2020, 1, 1))
    assert (info.citation, info.latest, info.error) == (None, None, None)


async def test_only_404_captures_is_never_archived(
    wayback: FakeWayback, client: ArchiveClient
) -> None:
    wayback.add_capture(URL, FakeCapture("20200101000000", 404))
    info = await client.lookup(URL, date(2021, 1, 1))
    assert (info.citation, info.latest, info.error) == (None, None, None)


async def test_blocked_site_is_answered_without_copy(
    wayback: FakeWayback, client: ArchiveClient
) -> None:
    _stock(wayback)
    wayback.block_site(URL)
    info = await client.lookup(URL, date(2020, 1, 1))
    assert (info.citation, info.latest, info.error) == (None, None, None)


async def test_availability_api_is_the_fallback(
    wayback: FakeWayback, client: ArchiveClient
) -> None:
    _stock(wayback)
    wayback.fail_with(FailStatus(503), endpoints=["cdx"])
    info = await client.lookup(URL, date(2019, 1, 5))
    assert info.error is None
    assert wayback.count("available") == 2
    assert info.latest is not None and info.latest.timestamp == _ts("20210101000000")
    # the availability API only knows "closest": here the one after the citation date
    assert info.citation is not None and info.citation.timestamp == _ts("20190110000000")


async def test_failure_is_not_never_archived(wayback: FakeWayback, client: ArchiveClient) -> None:
    _stock(wayback)
    wayback.fail_with(FailStatus(502), endpoints=["cdx", "available"])
    info = await client.lookup(URL, date(2019, 1, 5))
    assert info.error == "archive error: HTTP 502"
    assert info.citation is None and info.latest is None


async def test_empty_availability_after_cdx_failure_is_an_error(
    wayback: FakeWayback, client: ArchiveClient
) -> None:
    wayback.fail_with(FailStatus(500), endpoints=["cdx"])
    info = await client.lookup("https://never.example/", date(2019, 1, 5))
    assert info.error is not None


async def test_stalled_archive_times_out_every_request(wayback: FakeWayback) -> None:
    _stock(wayback)
    wayback.fail_with(FailStall(30), endpoints=["cdx", "available"])
    client = ArchiveClient(settings_for(wayback, timeout_s=0.5), limits=fast_limits())
    started = time.monotonic()
    info = await client.lookup(URL, date(2019, 1, 5))
    assert info.error == "archive timeout"
    assert time.monotonic() - started < 10  # two timed-out requests, never "forever"
    assert wayback.count("cdx") == 1 and wayback.count("available") == 1


async def test_429_is_never_never_archived_and_pauses_all_archive_calls(
    wayback: FakeWayback,
) -> None:
    _stock(wayback)
    clock = ManualClock()
    limits = ArchiveLimits.create(
        lookups_per_minute=1000, saves_per_minute=1000, clock=clock, sleep=clock.sleep
    )
    client = ArchiveClient(settings_for(wayback), limits=limits)
    wayback.fail_with(FailRateLimit(retry_after="120"), endpoints=["cdx"], times=1)

    first = await client.lookup(URL, date(2019, 1, 5))
    assert first.error is not None and "429" in first.error
    assert first.citation is None and first.latest is None
    assert wayback.count() == 1  # no fallback to the availability API while rate limited
    assert 119 <= limits.gate.remaining() <= 120

    clock.now += 100  # still paused: no request at all, for any URL
    second = await client.lookup("https://example.com/other", None)
    assert second.error is not None and "paused" in second.error
    assert wayback.count() == 1

    clock.now += 21  # pause over: the archive answers again
    third = await client.lookup(URL, date(2019, 1, 5))
    assert third.error is None and third.citation is not None


async def test_429_without_retry_after_pauses_at_least_a_minute(wayback: FakeWayback) -> None:
    clock = ManualClock()
    limits = ArchiveLimits.create(lookups_per_minute=1000, clock=clock, sleep=clock.sleep)
    client = ArchiveClient(settings_for(wayback), limits=limits)
    wayback.fail_with(FailRateLimit(retry_after=None), endpoints=["cdx"])
    info = await client.lookup(URL, None)
    assert info.error is not None and info.latest is None
    assert limits.gate.remaining() == 60


async def test_limiter_holds_at_the_server(wayback: FakeWayback) -> None:
    """5 requests per 0.5 s window (the production 24/min scaled down), counted by the server."""
    limits = ArchiveLimits.create(lookups_per_minute=5, window_s=0.5)
    client = ArchiveClient(settings_for(wayback), limits=limits)
    urls = [f"https://never.example/{i}" for i in range(15)]  # one CDX request each
    infos = await client.lookup_many([(u, None) for u in urls])
    assert all(i.error is None for i in infos.values())
    assert wayback.count("cdx") == 15
    assert wayback.max_in_window(0.45) <= 5
    times = wayback.times("cdx")
    assert times[-1] - times[0] >= 14 * 0.1 * 0.9  # evenly spaced, no burst


async def test_lookup_many_dedupes_and_keeps_the_earliest_citation(
    wayback: FakeWayback, client: ArchiveClient
) -> None:
    _stock(wayback)
    infos = await client.lookup_many(
        [(URL, date(2022, 1, 1)), (URL, date(2019, 1, 5)), (URL, None)]
    )
    assert list(infos) == [URL]
    cited = infos[URL].citation
    assert cited is not None and cited.timestamp == _ts("20181231120000")


async def test_lookup_many_returns_at_its_deadline(wayback: FakeWayback) -> None:
    wayback.fail_with(FailStall(20), endpoints=["cdx", "available"])
    client = ArchiveClient(settings_for(wayback, timeout_s=10), limits=fast_limits())
    started = time.monotonic()
    infos = await client.lookup_many(
        [(f"https://slow.example/{i}", None) for i in range(6)], deadline_s=0.5
    )
    elapsed = time.monotonic() - started
    assert elapsed < 3
    assert {i.error for i in infos.values()} == {ARCHIVE_TIMEOUT}


async def _link_farm() -> tuple[web.AppRunner, str]:
    async def page(request: web.Request) -> web.Response:
        await asyncio.sleep(0.01)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{n}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://localhost:{runner.addresses[0][1]}"


async def _checks(base: str, n: int = 40) -> float:
    """A stand-in for a run's link checks: name resolution in the default executor + HTTP."""
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=5) as http:

        async def one(i: int) -> None:
            await loop.getaddrinfo(
                "localhost", 80
            )  # what aiohttp's resolver does: default executor
            r = await http.get(f"{base}/{i}")
            assert r.status_code == 200

        await asyncio.gather(*(one(i) for i in range(n)))
    return time.monotonic() - started


async def test_stalled_archive_does_not_slow_link_checks(wayback: FakeWayback) -> None:
    runner, base = await _link_farm()
    try:
        alone = await _checks(base)
        wayback.fail_with(FailStall(20), endpoints=["cdx", "available"])
        # More lookups in flight than asyncio's default executor has threads (cpu + 4): were
        # archive calls run there, name resolution for the checks would queue behind them.
        client = ArchiveClient(
            settings_for(wayback, timeout_s=8), limits=fast_limits(), concurrency=12
        )
        archive = asyncio.create_task(
            client.lookup_many(
                [(f"https://slow.example/{i}", None) for i in range(20)], deadline_s=2.5
            )
        )
        await asyncio.sleep(0.2)  # every archive worker thread is now stuck on the stall
        with_stall = await _checks(base)
        assert not archive.done()  # the checks finished while the archive was still stalled
        infos = await archive
    finally:
        await runner.cleanup()
    assert with_stall < alone + 2.0
    assert all(i.error == ARCHIVE_TIMEOUT for i in infos.values())
