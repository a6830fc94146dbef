"""Digest grouping and cap, routing by event/article/tag, quiet hours, daily digests,
reminders and moved links, through the real outbox and receivers.

Their SQL is the same as in test_delivery (run on both databases); these run on SQLite only
to keep the suite fast."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from service.alerts import dispatch
from service.model import Outcome
from tests.alerts.conftest import T0, World, alerts, channel, hook_url
from tests.support.webhook import WebhookReceiver


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def _messages(hook: WebhookReceiver, path: str | None = None) -> list[str]:
    return [r.json()["message"] for r in hook.delivered if path is None or f"/{path}/" in r.path]


async def test_one_tick_is_one_message_grouped_by_article_with_a_cap(
    world: World, hook: WebhookReceiver
) -> None:
    a_links = [f"https://a.example/{i}" for i in range(4)]
    b_links = [f"https://b.example/{i}" for i in range(3)]
    world.article("posts/a.md", "Article A", [(u, f"anchor a{i}") for i, u in enumerate(a_links)])
    world.article("posts/b.md", "Article B", [(u, f"anchor b{i}") for i, u in enumerate(b_links)])
    for url in a_links + b_links:
        at = world.kill(url, T0)
    cfg = alerts({"hook": channel(hook_url(hook))}, digest_cap=5)
    stats = await dispatch(world.db, cfg, at, worker="w1")
    assert (stats.delivered, stats.messages) == (7, 1)
    [message] = _messages(hook)
    assert hook.delivered[0].json()["title"] == "linkwatch: 7 broken"
    assert message.index("Article A (posts/a.md)") < message.index("Article B (posts/b.md)")
    shown = re.findall(r"-> (https://\S+)", message)
    assert len(shown) == 5 and shown[:4] == a_links
    assert "... and 2 more" in message


async def test_routing_by_event_article_and_tag(world: World, hook: WebhookReceiver) -> None:
    world.article(
        "posts/ops.md", "Ops", [("https://ops.example/x", "ops link")], tags=["ops", "infra"]
    )
    world.article("posts/blog.md", "Blog", [("https://blog.example/y", "blog link")])
    cfg = alerts(
        {
            "ops": channel(hook_url(hook, "ops"), events=["broken"], tags=["ops"]),
            "blog": channel(hook_url(hook, "blog"), articles=["posts/blog.md"]),
            "all": channel(hook_url(hook, "all")),
        }
    )
    at = world.kill("https://ops.example/x", T0)
    world.kill("https://blog.example/y", T0)
    await dispatch(world.db, cfg, at, worker="w1")
    assert ["ops.example" in m for m in _messages(hook, "ops")] == [True]
    assert "blog.example" not in _messages(hook, "ops")[0]
    assert ["blog.example" in m and "ops.example" not in m for m in _messages(hook, "blog")] == [
        True
    ]
    [both] = _messages(hook, "all")
    assert "ops.example" in both and "blog.example" in both

    back = at + timedelta(hours=2)
    world.check("https://ops.example/x", Outcome.OK, back, status=200)
    await dispatch(world.db, cfg, back, worker="w1")
    assert len(_messages(hook, "ops")) == 1  # "ops" does not take recovered events
    assert len(_messages(hook, "blog")) == 1  # not its article
    assert "recovered" in _messages(hook, "all")[1]


async def test_quiet_hours_hold_recoveries_but_not_breakage(
    world: World, hook: WebhookReceiver
) -> None:
    world.article(
        "posts/a.md", "A", [("https://x.example/1", "one"), ("https://x.example/2", "two")]
    )
    night = T0.replace(hour=22, minute=30)
    world.kill("https://x.example/1", night - timedelta(hours=6))
    cfg = alerts({"hook": channel(hook_url(hook))}, quiet_hours="22:00-07:00")
    await dispatch(world.db, cfg, night - timedelta(hours=5), worker="w1")  # the first breakage
    assert len(hook.delivered) == 1

    world.check("https://x.example/1", Outcome.OK, night, status=200)  # recovered at 22:30
    dead2 = world.kill("https://x.example/2", night - timedelta(minutes=20))  # broken at 22:40
    await dispatch(world.db, cfg, dead2, worker="w1")
    assert len(hook.delivered) == 2
    assert "1 broken" in hook.delivered[1].json()["title"]  # urgent: at once
    await dispatch(world.db, cfg, night.replace(hour=23, minute=59), worker="w1")
    await dispatch(
        world.db, cfg, (night + timedelta(days=1)).replace(hour=6, minute=59), worker="w1"
    )
    assert len(hook.delivered) == 2  # the recovery waits
    await dispatch(
        world.db, cfg, (night + timedelta(days=1)).replace(hour=7, minute=0), worker="w1"
    )
    assert len(hook.delivered) == 3
    assert hook.delivered[2].json()["title"] == "linkwatch: 1 recovered"


async def test_daily_digest_collects_a_day_into_one_message(
    world: World, hook: WebhookReceiver
) -> None:
    urls = [f"https://d.example/{i}" for i in range(3)]
    world.article("posts/d.md", "D", [(u, u[-1]) for u in urls])
    cfg = alerts(
        {
            "daily": channel(hook_url(hook, "daily"), digest="daily", daily_at="08:00"),
            "now": channel(hook_url(hook, "now")),
        }
    )
    at = T0
    for url in urls:  # one breakage every 3 hours, each seen by a tick
        at = world.kill(url, at) + timedelta(hours=2)
        await dispatch(world.db, cfg, at, worker="w1")
    assert len(_messages(hook, "now")) == 3
    assert _messages(hook, "daily") == []
    await dispatch(world.db, cfg, (T0 + timedelta(days=1)).replace(hour=7, minute=59), worker="w1")
    assert _messages(hook, "daily") == []
    await dispatch(world.db, cfg, (T0 + timedelta(days=1)).replace(hour=8, minute=0), worker="w1")
    [daily] = [r.json() for r in hook.delivered if "/daily/" in r.path]
    assert daily["title"] == "linkwatch daily digest: 3 broken"
    assert all(u in daily["message"] for u in urls)


async def test_reminders_for_links_still_dead(world: World, hook: WebhookReceiver) -> None:
    world.article("posts/r.md", "R", [("https://r.example/x", "x")])
    dead_at = world.kill("https://r.example/x", T0)
    cfg = alerts({"hook": channel(hook_url(hook))}, reminder_days=7)
    for day in (0, 3, 6, 7, 8, 13, 14, 15):
        await dispatch(world.db, cfg, dead_at + timedelta(days=day), worker="w1")
    titles = [r.json()["title"] for r in hook.delivered]
    assert titles == [
        "linkwatch: 1 broken",
        "linkwatch: 1 still broken",
        "linkwatch: 1 still broken",
    ]
    assert "Still dead since 2025-03-03 13:00 UTC (7 days)" in hook.delivered[1].json()["message"]


async def test_moved_links_for_channels_that_ask(world: World, hook: WebhookReceiver) -> None:
    world.article("posts/m.md", "M", [("https://m.example/old", "old page")])
    cfg = alerts(
        {
            "moves": channel(hook_url(hook, "moves"), events=["moved"]),
            "plain": channel(hook_url(hook, "plain")),
        }
    )
    world.check(
        "https://m.example/old", Outcome.MOVED, T0, status=200, final_url="https://m.example/new"
    )
    for minutes in (0, 30):
        await dispatch(world.db, cfg, T0 + timedelta(minutes=minutes), worker="w1")
    [message] = _messages(hook, "moves")
    assert "Fix: update the link to the new address https://m.example/new" in message
    assert _messages(hook, "plain") == []
