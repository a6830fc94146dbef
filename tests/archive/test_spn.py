"""Save Page Now 2: jobs polled to completion, retryable vs permanent errors, the selection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from service.archive.limiter import ArchiveLimits
from service.archive.spn import SavePageNow, SaveRefused, classify_status_ext, retry_delay, save_due
from service.errors import ArchiveError
from service.model import ArchiveInfo, Capture
from service.settings import WaybackSettings, load_settings
from service.store import snapshots as store
from service.store.db import Database, open_database
from tests.archive.conftest import fast_limits, settings_for
from tests.archive.test_store import add_link
from tests.support.fake_wayback import FailRateLimit, FakeWayback, SavePlan

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def spn_for(
    wayback: FakeWayback,
    http: httpx.AsyncClient,
    limits: ArchiveLimits | None = None,
    *,
    poll_budget_s: float = 180.0,
    monotonic: Callable[[], float] = time.monotonic,
) -> SavePageNow:
    return SavePageNow(
        settings_for(wayback, keys=True),
        http,
        limits=limits or fast_limits(),
        sleep=no_wait,
        poll_initial_s=0.01,
        poll_budget_s=poll_budget_s,
        monotonic=monotonic,
    )


def never_archived(db: Database, url: str, *, health: str = "alive") -> int:
    link = add_link(db, url, health=health)
    with db.session() as s:
        store.store_archive_info(s, link, ArchiveInfo(url, None, None, NOW - timedelta(days=1)))
    return link


async def test_job_polled_to_completion_and_snapshot_stored(
    db: Database, wayback: FakeWayback, http: httpx.AsyncClient
) -> None:
    url = "https://example.com/unarchived"
    link = never_archived(db, url)
    wayback.now = lambda: NOW
    summary = await save_due(db.session, spn_for(wayback, http), now=NOW)
    assert (summary.submitted, summary.saved) == (1, 1)
    assert wayback.count("save") == 1
    assert wayback.count("status") == 3  # pending, pending, success
    save = next(h for h in wayback.hits if h.endpoint == "save")
    assert save.form == {"url": url}
    assert save.headers["Authorization"] == "LOW key:secret"
    assert save.headers["Accept"] == "application/json"
    with db.session() as s:
        rows = store.snapshots_for_links(s, [link])[link]
        request = store.save_request_for(s, link)
    ts = NOW.strftime("%Y%m%d%H%M%S")
    assert (
        rows["latest"].found and rows["latest"].archive_url == f"{wayback.base_url}/web/{ts}/{url}"
    )
    assert rows["citation"].found  # it had no capture at all: this one is the closest now
    assert request is not None and request.state == "success" and request.attempts == 1
    # the capture is in the archive, and the link is not submitted again
    again = await save_due(db.session, spn_for(wayback, http), now=NOW + timedelta(hours=1))
    assert again.submitted == 0 and wayback.count("save") == 1


async def test_retryable_error_is_scheduled_for_later(
    db: Database, wayback: FakeWayback, http: httpx.AsyncClient
) -> None:
    url = "https://example.com/busy"
    link = never_archived(db, url)
    wayback.save_plans[url] = SavePlan(submit_error="error:user-session-limit")
    first = await save_due(db.session, spn_for(wayback, http), now=NOW)
    assert first.retry == 1
    with db.session() as s:
        request = store.save_request_for(s, link)
    assert request is not None and request.state == "error"
    assert request.error is not None and request.error.startswith("error:user-session-limit")
    assert request.next_attempt_at == NOW + retry_delay(1)

    soon = await save_due(db.session, spn_for(wayback, http), now=NOW + timedelta(minutes=5))
    assert soon.submitted == 0 and wayback.count("save") == 1
    wayback.save_plans[url] = SavePlan(pending_polls=0)
    later = await save_due(db.session, spn_for(wayback, http), now=NOW + timedelta(minutes=11))
    assert later.saved == 1 and wayback.count("save") == 2
    with db.session() as s:
        request = store.save_request_for(s, link)
    assert request is not None and request.state == "success" and request.attempts == 2


async def test_job_error_retryable_vs_permanent(
    db: Database, wayback: FakeWayback, http: httpx.AsyncClient
) -> None:
    slow = "https://example.com/slow"
    gone = "https://example.com/unfetchable"
    slow_link = never_archived(db, slow)
    gone_link = never_archived(db, gone)
    wayback.save_plans[slow] = SavePlan(
        outcome="error", status_ext="error:soft-time-limit-exceeded"
    )
    wayback.save_plans[gone] = SavePlan(outcome="error", status_ext="error:invalid-host-resolution")
    summary = await save_due(db.session, spn_for(wayback, http), now=NOW)
    assert (summary.retry, summary.not_archivable) == (1, 1)
    with db.session() as s:
        slow_req = store.save_request_for(s, slow_link)
        gone_req = store.save_request_for(s, gone_link)
    assert slow_req is not None and slow_req.state == "error"
    assert gone_req is not None and gone_req.state == "not_archivable"
    assert gone_req.error is not None and "error:invalid-host-resolution" in gone_req.error
    # a day later the retryable one is tried again, the permanent one is not
    wayback.save_plans[slow] = SavePlan(pending_polls=0)
    next_day = await save_due(db.session, spn_for(wayback, http), now=NOW + timedelta(days=1))
    assert [o.url for o in next_day.outcomes] == [slow]


async def test_pending_job_is_polled_next_sweep_not_resubmitted(
    db: Database, wayback: FakeWayback, http: httpx.AsyncClient
) -> None:
    url = "https://example.com/long-job"
    link = never_archived(db, url)
    wayback.save_plans[url] = SavePlan(pending_polls=2)  # the first sweep gives up after 2 polls
    clock = iter(range(1000))
    spn = spn_for(wayback, http, poll_budget_s=1.5, monotonic=lambda: float(next(clock)))
    first = await save_due(db.session, spn, now=NOW)
    assert first.pending == 1
    with db.session() as s:
        request = store.save_request_for(s, link)
    assert request is not None and request.state == "pending" and request.job_id
    second = await save_due(db.session, spn, now=NOW + timedelta(minutes=6))
    assert (second.polled, second.submitted, second.saved) == (1, 0, 1)
    assert wayback.count("save") == 1


async def test_rate_limit_stops_the_sweep_and_pauses_archive_calls(
    db: Database, wayback: FakeWayback, http: httpx.AsyncClient
) -> None:
    for i in range(3):
        never_archived(db, f"https://example.com/r{i}")
    # submissions 0.5 s apart: the first one's 429 arrives long before the second is due
    limits = ArchiveLimits.create(saves_per_minute=1, window_s=0.5)
    wayback.fail_with(FailRateLimit(retry_after="300"), endpoints=["save"])
    summary = await save_due(db.session, spn_for(wayback, http, limits), now=NOW)
    assert summary.stopped is not None and wayback.count("save") == 1
    assert limits.gate.remaining() > 290
    with db.session() as s:
        assert store.links_due_for_save(s, NOW, max_age_days=365, limit=10)  # nothing marked


async def test_refused_keys_stop_the_sweep(
    db: Database, wayback: FakeWayback, http: httpx.AsyncClient
) -> None:
    never_archived(db, "https://example.com/k")
    wayback.secret_key = "other"
    spn = spn_for(wayback, http)
    with pytest.raises(SaveRefused):
        await spn.save("https://example.com/k")
    summary = await save_due(db.session, spn, now=NOW)
    assert summary.stopped is not None and "refused" in summary.stopped


def test_selection_of_links_to_save(db: Database) -> None:
    never = never_archived(db, "https://example.com/never")
    never_archived(db, "https://example.com/dead", health="dead")
    add_link(db, "https://example.com/unlooked")  # no lookup yet: unknown, not "no capture"
    old = add_link(db, "https://example.com/old")
    recent = add_link(db, "https://example.com/recent")
    failed = add_link(db, "https://example.com/failed")

    def cap(url: str, when: datetime) -> Capture:
        return Capture(url, when, f"http://wb.test/web/x/{url}", 200)

    with db.session() as s:
        store.store_archive_info(
            s, old, ArchiveInfo("o", None, cap("o", NOW - timedelta(days=400)), NOW)
        )
        store.store_archive_info(
            s, recent, ArchiveInfo("r", None, cap("r", NOW - timedelta(days=10)), NOW)
        )
        store.store_archive_info(
            s, failed, ArchiveInfo("f", None, None, NOW, error="archive timeout")
        )
        due = store.links_due_for_save(s, NOW, max_age_days=365, limit=10)
    assert [d.link_id for d in due] == [never, old]


def test_classification_is_pure() -> None:
    assert classify_status_ext("error:user-session-limit") == "retry"
    assert classify_status_ext("error:browsing-timeout") == "retry"
    assert classify_status_ext("error:no-browsers-available") == "retry"
    assert classify_status_ext("error:proxy-error") == "retry"
    assert classify_status_ext("error:blocked-url") == "not_archivable"
    assert classify_status_ext(None) == "not_archivable"
    assert retry_delay(1) == timedelta(minutes=10)
    assert retry_delay(20) == timedelta(days=1)


def test_save_needs_keys(tmp_path: object) -> None:
    with pytest.raises(ArchiveError):
        SavePageNow(WaybackSettings(), httpx.AsyncClient())


def test_keys_from_files_enable_saving(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    key = Path(str(tmp_path)) / "key"
    secret = Path(str(tmp_path)) / "secret"
    key.write_text("abc\n")
    secret.write_text("xyz\n")
    settings = load_settings(
        path=None,
        env={
            "LINKWATCH_WAYBACK__ACCESS_KEY_FILE": str(key),
            "LINKWATCH_WAYBACK__SECRET_KEY_FILE": str(secret),
        },
    )
    assert settings.wayback.save_enabled
    assert (
        settings.wayback.secret_key is not None
        and settings.wayback.secret_key.get_secret_value() == "xyz"
    )
