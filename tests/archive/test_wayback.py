"""The guarded requests session under waybackpy, and the pure timestamp helpers."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
import requests
import waybackpy.availability_api
import waybackpy.cdx_utils
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from service.archive.lookup import choose_citation
from service.archive.wayback import (
    ArchiveTimeout,
    CallConfig,
    GuardedSession,
    call_config,
    parse_retry_after,
    parse_timestamp,
    to_timestamp,
)
from service.errors import ArchiveError, ArchiveRateLimited
from service.model import Capture
from tests.support.fake_wayback import FailRateLimit, FailStall, FailStatus, FakeWayback


def test_waybackpy_uses_the_guarded_session() -> None:
    cdx_requests = vars(waybackpy.cdx_utils)["requests"]
    availability_requests = vars(waybackpy.availability_api)["requests"]
    assert cdx_requests.Session is GuardedSession
    assert availability_requests.Response is requests.Response  # the rest is the real module


def _get(url: str) -> object:
    with GuardedSession() as session:
        # what waybackpy.cdx_utils.get_response does: mount a retrying adapter, then GET
        session.mount("http://", HTTPAdapter(max_retries=Retry(total=5, status_forcelist=[503])))
        return session.get(url)


async def test_no_hidden_retries_and_status_checked(wayback: FakeWayback) -> None:
    url = f"{wayback.base_url}/cdx/search/cdx?url=example.com"
    wayback.fail_with(FailStatus(503), endpoints=["cdx"])
    with pytest.raises(ArchiveError, match="HTTP 503"):
        await asyncio.to_thread(_get, url)
    assert wayback.count("cdx") == 1
    wayback.fail_with(FailRateLimit(retry_after="90"), endpoints=["cdx"])
    with pytest.raises(ArchiveRateLimited) as err:
        await asyncio.to_thread(_get, url)
    assert err.value.retry_after_s == 90
    assert wayback.count("cdx") == 2


async def test_every_request_has_a_timeout(wayback: FakeWayback) -> None:
    wayback.fail_with(FailStall(10), endpoints=["cdx"])

    def stalled() -> object:
        with call_config(CallConfig(timeout_s=0.3)):
            return _get(f"{wayback.base_url}/cdx/search/cdx?url=example.com")

    with pytest.raises(ArchiveTimeout):
        await asyncio.to_thread(stalled)


def test_timestamps() -> None:
    assert parse_timestamp("20190102030405") == datetime(2019, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_timestamp("2019") == datetime(2019, 1, 1, tzinfo=UTC)
    assert parse_timestamp("201905") == datetime(2019, 5, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_timestamp("20x9")
    assert to_timestamp(datetime(2020, 2, 29, 23, 59, 59, tzinfo=UTC)) == "20200229235959"


def test_retry_after() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_retry_after("Mon, 01 Jan 2024 00:02:00 GMT", now) == 120


def test_citation_day_is_inclusive() -> None:
    def cap(ts: str) -> Capture:
        return Capture("u", parse_timestamp(ts), "a")

    assert choose_citation(cap("20200501235959"), date(2020, 5, 1))
    assert not choose_citation(cap("20200502000000"), date(2020, 5, 1))
    assert choose_citation(cap("20990101000000"), None)
