"""Every link-farm behaviour -> its outcome, through the library API (Checker on real servers)."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from datetime import UTC, datetime

import pytest

from service.checks.checker import Checker
from service.model import Outcome
from tests.checks.conftest import make_settings
from tests.support.farm import LinkFarm

# path on farm.test -> (outcome, final HTTP status, number of hops)
FARM_TABLE: list[tuple[str, Outcome, int | None, int]] = [
    ("/ok", Outcome.OK, 200, 1),
    ("/status/404", Outcome.NOT_FOUND, 404, 1),
    ("/status/410", Outcome.NOT_FOUND, 410, 1),
    ("/status/400", Outcome.NOT_FOUND, 400, 1),
    ("/status/500", Outcome.SERVER_ERROR, 500, 1),
    ("/status/502", Outcome.SERVER_ERROR, 502, 1),
    ("/unavailable", Outcome.SERVER_ERROR, 503, 1),
    ("/retry-after/seconds", Outcome.RATE_LIMITED, 429, 1),
    ("/status/401", Outcome.BLOCKED, 401, 1),
    ("/status/402", Outcome.BLOCKED, 402, 1),
    ("/status/403", Outcome.BLOCKED, 403, 1),
    ("/status/451", Outcome.BLOCKED, 451, 1),
    ("/status/999", Outcome.BLOCKED, 999, 1),
    ("/status/418", Outcome.BLOCKED, 418, 1),
    ("/status/408", Outcome.TIMEOUT, 408, 1),
    ("/redirect/301", Outcome.MOVED, 200, 2),
    ("/redirect/308", Outcome.MOVED, 200, 2),
    ("/redirect/302", Outcome.OK, 200, 2),
    ("/redirect/303", Outcome.OK, 200, 2),
    ("/redirect/307", Outcome.OK, 200, 2),
    ("/redirect/301/other", Outcome.MOVED, 200, 2),
    ("/redirect/302/other", Outcome.OK, 200, 2),
    ("/redirect/301?to=/status/404", Outcome.NOT_FOUND, 404, 2),
    ("/redirect/relative", Outcome.OK, 200, 2),
    ("/redirect/missing", Outcome.SERVER_ERROR, None, 1),
    ("/redirect/ftp", Outcome.SERVER_ERROR, None, 1),
    ("/moved/page", Outcome.MOVED, 200, 2),
    ("/chain/3?code=301", Outcome.MOVED, 200, 4),
    ("/chain/3?code=302&host=other", Outcome.OK, 200, 4),
    ("/chain/10", Outcome.OK, 200, 11),
    ("/chain/11", Outcome.TOO_MANY_REDIRECTS, None, 11),
    ("/chain/15", Outcome.TOO_MANY_REDIRECTS, None, 11),
    ("/loop/a", Outcome.TOO_MANY_REDIRECTS, None, 2),
    ("/loop/self", Outcome.TOO_MANY_REDIRECTS, None, 1),
    ("/trivial/slash", Outcome.OK, 200, 2),
    ("/trivial/www", Outcome.OK, 200, 2),
    ("/head/405", Outcome.OK, 200, 1),
    ("/head/404", Outcome.OK, 200, 1),
    ("/head/501", Outcome.OK, 200, 1),
    ("/head/disconnect", Outcome.OK, 200, 1),
    ("/cookie-dance", Outcome.OK, 200, 2),
    ("/endless", Outcome.OK, 200, 1),
    ("/bomb", Outcome.OK, 200, 1),
    ("/gzip", Outcome.OK, 200, 1),
    ("/deflate", Outcome.OK, 200, 1),
    ("/drip", Outcome.TIMEOUT, None, 1),
    ("/redirect/literal", Outcome.PRIVATE_TARGET, None, 1),
]


@pytest.mark.parametrize(("path", "outcome", "status", "hops"), FARM_TABLE)
async def test_farm_behaviour(
    farm: LinkFarm, path: str, outcome: Outcome, status: int | None, hops: int
) -> None:
    async with Checker(make_settings(farm)) as checker:
        result = await checker.check(farm.url(path))
    assert (result.outcome, result.http_status, len(result.hops)) == (outcome, status, hops), result
    assert result.url == farm.url(path)
    assert result.checked_at.tzinfo is not None
    if outcome in {Outcome.OK, Outcome.MOVED}:
        assert result.error is None
        assert result.final_url == result.hops[-1].url
    else:
        assert result.error


async def test_special_servers(farm: LinkFarm) -> None:
    async with Checker(make_settings(farm, timeout_s=1.5)) as checker:
        refused, garbage, drip, hang = await asyncio.gather(
            checker.check(farm.refused_url),
            checker.check(farm.garbage_url),
            checker.check(farm.drip_headers_url),
            checker.check(farm.hang_url),
        )
    assert (refused.outcome, refused.error) == (Outcome.REFUSED, "connection refused")
    assert garbage.outcome is Outcome.SERVER_ERROR
    assert garbage.error is not None and "not a valid HTTP answer" in garbage.error
    assert drip.outcome is Outcome.TIMEOUT and hang.outcome is Outcome.TIMEOUT
    assert drip.error == "no complete answer within 1.5 s"


async def test_slow_drip_and_endless_body_end_within_the_deadline(farm: LinkFarm) -> None:
    settings = make_settings(farm, timeout_s=1.0)
    async with Checker(settings) as checker:
        started = time.monotonic()
        drip, headers_drip, endless = await asyncio.gather(
            checker.check(farm.url("/drip?every=0.1")),
            checker.check(farm.drip_headers_url),
            checker.check(farm.url("/endless")),
        )
        elapsed = time.monotonic() - started
    assert drip.outcome is Outcome.TIMEOUT and headers_drip.outcome is Outcome.TIMEOUT
    assert endless.outcome is Outcome.OK
    assert elapsed < 5  # 1 s deadline; generous bound for a loaded machine
    assert 900 <= drip.latency_ms < 5000


async def test_body_is_capped_and_gzip_bomb_stays_small(farm: LinkFarm) -> None:
    settings = make_settings(farm, max_body_bytes=64 * 1024, timeout_s=10)
    async with Checker(settings, head_first=False) as checker:
        endless = await checker.observe(farm.url("/endless"))
        tracemalloc.start()
        try:
            bomb = await checker.observe(farm.url("/bomb?mib=256"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert endless.status == 200 and len(endless.body) == 64 * 1024
    assert bomb.status == 200 and bomb.body == bytes(64 * 1024) and bomb.body_error is None
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while reading a 256 MiB gzip bomb"


async def test_compressed_bodies_are_decoded(farm: LinkFarm) -> None:
    async with Checker(make_settings(farm), head_first=False) as checker:
        gz = await checker.observe(farm.url("/gzip"))
        raw_deflate = await checker.observe(farm.url("/deflate"))
    assert gz.title == raw_deflate.title == "Compressed page"


async def test_head_first_then_get_only_when_needed(farm: LinkFarm) -> None:
    async with Checker(make_settings(farm)) as checker:
        ok = await checker.check(farm.url("/ok"))
        fallback = await checker.check(farm.url("/head/405"))
        limited = await checker.check(farm.url("/retry-after/seconds"))
    assert ok.outcome is Outcome.OK and fallback.outcome is Outcome.OK
    assert (farm.count("/ok", method="HEAD"), farm.count("/ok", method="GET")) == (1, 0)
    assert (farm.count("/head/405", method="HEAD"), farm.count("/head/405", method="GET")) == (1, 1)
    # A 429 is not answered by an immediate second request.
    assert farm.count("/retry-after/seconds") == 1 and limited.retry_after_s == 2.0


async def test_retry_after_http_date_is_parsed_and_capped(farm: LinkFarm) -> None:
    async with Checker(make_settings(farm, retry_after_cap_s=600)) as checker:
        result = await checker.check(farm.url("/retry-after/date"))
    async with Checker(make_settings(farm)) as checker:
        capped = await checker.check(farm.url("/retry-after/date"))
    assert result.outcome is Outcome.RATE_LIMITED
    assert result.retry_after_s is not None and 100 <= result.retry_after_s <= 121
    assert capped.retry_after_s == 60.0


async def test_redirect_details_are_recorded(farm: LinkFarm) -> None:
    async with Checker(make_settings(farm)) as checker:
        moved = await checker.check(farm.url("/redirect/301/other"))
        temp = await checker.check(farm.url("/redirect/307"))
        www = await checker.check(farm.url("/trivial/www"))
    assert moved.final_url == farm.url("/ok", host="other.test")
    assert moved.permanent_redirect
    assert moved.hops[0].status == 301 and moved.hops[0].location == moved.final_url
    assert moved.hops[-1].location is None and moved.hops[-1].status == 200
    assert farm.count("/ok", host="other.test") == 1
    assert temp.final_url == farm.url("/ok") and not temp.permanent_redirect
    assert www.outcome is Outcome.OK and www.final_url == farm.url(
        "/trivial/www", host="www.farm.test"
    )


async def test_tls_self_signed_is_tls_error_and_trusted_ca_works(farm: LinkFarm) -> None:
    settings = make_settings(farm)
    async with Checker(settings) as checker:
        default = await checker.check(farm.url("/ok", scheme="https"))
    async with Checker(settings, verify=farm.client_ssl_context()) as checker:
        trusted = await checker.check(farm.url("/ok", scheme="https", host="secure.test"))
        upgraded = await checker.check(farm.url("/trivial/https"))
        mismatch = await checker.check(farm.url("/ok", scheme="https", host="wrong.test"))
    assert default.outcome is Outcome.TLS_ERROR
    assert default.error is not None and default.error.startswith("TLS failure")
    assert trusted.outcome is Outcome.OK
    assert upgraded.outcome is Outcome.OK  # http -> https is a trivial redirect
    assert upgraded.final_url == farm.url("/trivial/https", scheme="https")
    assert mismatch.outcome is Outcome.TLS_ERROR


async def test_headers_sent(farm: LinkFarm) -> None:
    # No soft-404 probe here: exactly the two link requests are compared.
    settings = make_settings(
        farm, user_agents={"other.test": "special-agent/1"}, soft404_probe=False
    )
    async with Checker(settings) as checker:
        await checker.check(farm.url("/ok"))
        await checker.check(farm.url("/ok", host="other.test"))
    first, second = farm.requests
    assert first.headers["User-Agent"].startswith("linkwatch/")
    assert "(+http" in first.headers["User-Agent"]
    assert first.headers["Accept"].startswith("text/html")
    assert first.headers["Accept-Language"].startswith("en")
    assert second.headers["User-Agent"] == "special-agent/1"
    async with Checker(make_settings(farm, user_agent="custom/2")) as checker:
        await checker.check(farm.url("/echo"))
    assert farm.requests[-1].headers["User-Agent"] == "custom/2"


async def test_check_many_checks_each_url_once_and_reports_each(farm: LinkFarm) -> None:
    urls = [
        farm.url("/ok"),
        farm.url("/status/404"),
        farm.url("/ok"),
        farm.url("/ok", host="other.test"),
    ]
    seen: list[str] = []
    async with Checker(make_settings(farm)) as checker:
        results = await checker.check_many(urls, on_result=lambda r: seen.append(r.url))
    assert list(results) == [
        farm.url("/ok"),
        farm.url("/status/404"),
        farm.url("/ok", host="other.test"),
    ]
    assert sorted(seen) == sorted(results)
    assert results[farm.url("/status/404")].outcome is Outcome.NOT_FOUND
    assert farm.count("/ok", host="farm.test") == 1


async def test_a_slow_host_does_not_hold_up_the_other_hosts(farm: LinkFarm) -> None:
    """Workers take URLs of hosts that have a free slot: with 6 workers and 2 slots per host,
    a slow host's queue keeps 2 of them busy, never all 6 waiting for its turn."""
    settings = make_settings(farm, concurrency=6, per_host_concurrency=2, timeout_s=5.0)
    slow = [farm.url(f"/sleep?s=0.5&n={i}") for i in range(10)]  # 2.5 s at 2 at a time
    fast = [farm.url(f"/ok?n={i}", host="other.test") for i in range(30)]
    urls = [u for pair in zip(slow, fast[:10], strict=True) for u in pair] + fast[10:]
    started = time.monotonic()
    finished: dict[str, float] = {}
    async with Checker(settings, per_host_interval_s=0) as checker:
        results = await checker.check_many(
            urls, on_result=lambda r: finished.setdefault(r.url, time.monotonic() - started)
        )
    assert all(r.outcome is Outcome.OK for r in results.values())
    assert max(finished[u] for u in slow) >= 2.4
    assert max(finished[u] for u in fast) < 1.0, sorted(finished[u] for u in fast)
    assert farm.max_concurrency("farm.test") == 2


async def test_checks_waiting_for_a_busy_host_leave_the_request_slots_to_others(
    farm: LinkFarm,
) -> None:
    """`concurrency` bounds requests in flight, taken once a host's turn has come: checks
    queued for one busy host (as the daemon starts them, a task per claimed link) do not
    hold slots that other hosts' checks could use."""
    settings = make_settings(farm, concurrency=2, per_host_concurrency=1, timeout_s=5.0)
    slow = [farm.url(f"/sleep?s=0.4&n={i}") for i in range(4)]  # 1.6 s, one at a time
    fast = [farm.url(f"/ok?n={i}", host="other.test") for i in range(4)]
    started = time.monotonic()
    finished: dict[str, float] = {}

    async def check(checker: Checker, url: str) -> None:
        await checker.check(url)
        finished[url] = time.monotonic() - started

    async with Checker(settings, per_host_interval_s=0) as checker:
        await asyncio.gather(*(check(checker, u) for u in [*slow, *fast]))
    assert max(finished[u] for u in slow) >= 1.5
    assert max(finished[u] for u in fast) < 0.35, sorted(finished[u] for u in fast)
    spans = [(r.started, r.ended or r.started) for r in farm.requests]
    most = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert most <= 2  # never more requests in flight than `concurrency`


async def test_concurrent_checks_of_one_url_share_one_request(farm: LinkFarm) -> None:
    async with Checker(make_settings(farm)) as checker:
        a, b = await asyncio.gather(
            checker.check(farm.url("/sleep?s=0.3")), checker.check(farm.url("/sleep?s=0.3"))
        )
    assert a == b and farm.count("/sleep") == 1


async def test_per_host_limits_measured_by_the_server(farm: LinkFarm) -> None:
    settings = make_settings(farm, concurrency=10, per_host_concurrency=2)
    urls = [farm.url(f"/sleep?s=0.2&n={i}") for i in range(6)]
    urls += [farm.url(f"/sleep?s=0.2&n={i}", host="other.test") for i in range(6)]
    async with Checker(settings, per_host_interval_s=0) as checker:
        results = await checker.check_many(urls)
    assert all(r.outcome is Outcome.OK for r in results.values())
    assert farm.max_concurrency("farm.test") == 2
    assert farm.max_concurrency("other.test") == 2
    assert all(r.latency_ms >= 150 for r in results.values())


async def test_per_host_interval_and_waiting_is_not_part_of_the_deadline(farm: LinkFarm) -> None:
    # 5 requests to one host, 0.4 s apart: the last starts ~1.6 s after the first, well past the
    # 1 s deadline, yet none times out: waiting for the host's turn does not count.
    settings = make_settings(farm, timeout_s=1.0, per_host_concurrency=2)
    urls = [farm.url(f"/ok?n={i}") for i in range(5)]
    async with Checker(settings, per_host_interval_s=0.4) as checker:
        results = await checker.check_many(urls)
    assert [r.outcome for r in results.values()] == [Outcome.OK] * 5
    gap = farm.min_gap("farm.test")
    assert gap is not None and gap >= 0.3


async def test_clock_is_injected(farm: LinkFarm) -> None:
    fixed = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with Checker(make_settings(farm), clock=lambda: fixed) as checker:
        result = await checker.check(farm.url("/ok"))
    assert result.checked_at == fixed


async def test_invalid_urls_do_not_raise(farm: LinkFarm) -> None:
    async with Checker(make_settings(farm)) as checker:
        bad_scheme = await checker.check("ftp://farm.test/file")
        no_host = await checker.check("http:///nothing")
    assert bad_scheme.outcome is Outcome.NOT_FOUND and bad_scheme.error
    assert no_host.outcome is Outcome.NOT_FOUND and no_host.error


async def test_cookies_stay_within_one_check(farm: LinkFarm) -> None:
    """A cookie set during one check's redirects is not sent by a later check: each check
    dances again (a session-wide jar would answer the second at once, hiding a broken dance)."""
    async with Checker(make_settings(farm)) as checker:
        first = await checker.check(farm.url("/cookie-dance"))
        second = await checker.check(farm.url("/cookie-dance"))
    assert [len(r.hops) for r in (first, second)] == [2, 2]
    sent = [r.headers.get("Cookie") for r in farm.requests if r.path == "/cookie-dance"]
    assert sent == [None, "dance=1", None, "dance=1"], sent
