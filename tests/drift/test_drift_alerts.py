"""The `drifted` alert (issue 11 §3): real drift sweeps (link farm + fake Wayback Machine), the
real outbox and dispatcher, a real webhook receiver; SQLite file and PostgreSQL.

One alert per channel that wants `drifted`, when a link's verdict turns from same (or none) to
drifted / replaced; never again for the same comparison; never while it stays drifted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from service.alerts import dispatch
from service.drift.sweep import drift_sweep
from service.drift.verdict import Verdict
from service.store.db import Database
from service.store.tables import AlertRow
from tests.alerts.conftest import alerts, channel, hook_url
from tests.drift import pages
from tests.drift.conftest import CAPTURE_TS, T1, LivePages, fast_limits, make_settings, seed
from tests.support.fake_wayback import FakeWayback
from tests.support.farm import LinkFarm
from tests.support.webhook import WebhookReceiver


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver("127.0.0.1") as receiver:
        yield receiver


def drift_alerts(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        rows = session.scalars(select(AlertRow).where(AlertRow.event == "drifted"))  # type: ignore[arg-type]
        return sorted((r.event_key, r.channel) for r in rows)


async def test_drifted_alert_once_per_channel_when_the_verdict_changes(
    db: Database,
    farm: LinkFarm,
    wayback: FakeWayback,
    client: httpx.AsyncClient,
    live: LivePages,
    hook: WebhookReceiver,
) -> None:
    settings = make_settings(farm, wayback)
    paths = ["/drift/unchanged", "/drift/rewritten", "/drift/comments"]
    ids = seed(db, farm, wayback.base_url, paths)
    limits = fast_limits()
    cfg = alerts(
        {
            "drift-only": channel(hook_url(hook, "a"), events=["drifted"]),
            "everything": channel(hook_url(hook, "b"), events=["broken", "recovered", "drifted"]),
            "no-drift": channel(hook_url(hook, "c"), events=["broken", "recovered"]),
        }
    )

    first = await drift_sweep(db, settings, T1, client=client, archive_limits=limits, limit="all")
    assert {r.link_id: r.verdict for r in first.results} == {
        ids["/drift/unchanged"]: Verdict.SAME,
        ids["/drift/rewritten"]: Verdict.DRIFTED,  # first comparison: none -> drifted
        ids["/drift/comments"]: Verdict.SAME,
    }
    stats = await dispatch(db, cfg, T1 + timedelta(minutes=1), worker="w1")
    assert (stats.enqueued, stats.delivered, stats.messages) == (2, 2, 2)
    assert sorted(r.path.split("/")[1] for r in hook.requests) == ["a", "b"]
    body = hook.requests[0].json()
    assert body["title"] == "linkwatch: 1 drifted"
    message = body["message"]
    rewritten = farm.url("/drift/rewritten")
    capture = f"{wayback.base_url}/web/{CAPTURE_TS}/{rewritten}"
    for expected in (
        f'[DRIFTED] "/drift/rewritten" -> {rewritten}',
        "Content drifted since cited: the page no longer says what was cited (drift score",
        "(first comparison); the link itself still answers.",
        f"What the author saw: {capture} (captured 2020-01-15)",
        "linkwatch fix --drifted archive",
        "articles/drift.md",
    ):
        assert expected in message, expected
    assert "/drift/unchanged" not in message and "/drift/comments" not in message

    # However often the daemon ticks, the same comparison is never told again.
    for minutes in (2, 3, 60):
        again = await dispatch(db, cfg, T1 + timedelta(minutes=minutes), worker="w2")
        assert again.enqueued == 0
    assert len(hook.requests) == 2

    # A month later the unchanged page is rewritten (same -> drifted: told); the rewritten one
    # is still drifted (drifted -> drifted: not told again).
    live.pages["/drift/unchanged"] = pages.rewritten()
    later_at = T1 + timedelta(days=31)
    later = await drift_sweep(
        db, settings, later_at, client=client, archive_limits=limits, limit="all"
    )
    assert {r.link_id: (r.previous, r.verdict) for r in later.results} == {
        ids["/drift/unchanged"]: (Verdict.SAME, Verdict.DRIFTED),
        ids["/drift/rewritten"]: (Verdict.DRIFTED, Verdict.DRIFTED),
        ids["/drift/comments"]: (Verdict.SAME, Verdict.SAME),
    }
    stats = await dispatch(db, cfg, later_at + timedelta(minutes=1), worker="w1")
    assert (stats.enqueued, stats.delivered) == (2, 2)
    told = [r.json()["message"] for r in hook.requests[2:]]
    assert len(told) == 2
    for text in told:
        assert farm.url("/drift/unchanged") in text and rewritten not in text
        assert "it was the same at the previous comparison" in text

    # Exactly once per (comparison, channel); the channel without `drifted` never got one.
    keys = drift_alerts(db)
    assert len(keys) == 4 and {c for _, c in keys} == {"drift-only", "everything"}
    assert len({k for k, _ in keys}) == 2 and all(k.startswith("drift:") for k, _ in keys)
    assert not any(r.path.startswith("/c/") for r in hook.requests)


async def test_no_channel_wants_drifted_nothing_is_enqueued(
    db: Database,
    farm: LinkFarm,
    wayback: FakeWayback,
    client: httpx.AsyncClient,
    hook: WebhookReceiver,
) -> None:
    settings = make_settings(farm, wayback)
    seed(db, farm, wayback.base_url, ["/drift/unrelated"])
    result = await drift_sweep(
        db, settings, T1, client=client, archive_limits=fast_limits(), limit="all"
    )
    assert [r.verdict for r in result.results] == [Verdict.REPLACED]
    cfg = alerts({"hook": channel(hook_url(hook), events=["broken", "recovered"])})
    assert (await dispatch(db, cfg, T1 + timedelta(minutes=1), worker="w1")).enqueued == 0
    cfg = alerts({"hook": channel(hook_url(hook), events=["drifted"])})
    # more than a week after the comparison it is history, not news
    assert (await dispatch(db, cfg, T1 + timedelta(days=8), worker="w1")).enqueued == 0
    # a channel that wants it soon after still hears about it
    stats = await dispatch(db, cfg, T1 + timedelta(minutes=2), worker="w1")
    assert (stats.enqueued, stats.delivered) == (1, 1)
    message = hook.requests[0].json()["message"]
    assert "Content replaced since cited: the page is now about something else" in message
    assert drift_alerts(db) == [(f"drift:{_only_drift_id(db)}", "hook")]


def _only_drift_id(db: Database) -> int:
    from service.store.tables import DriftRow

    with db.session() as session:
        ids = list(session.scalars(select(DriftRow.id)))  # type: ignore[call-overload]
    assert len(ids) == 1
    return int(ids[0])
