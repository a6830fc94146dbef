"""End to end: transitions in the store -> outbox -> real SMTP server and real webhook receiver."""

from __future__ import annotations

from datetime import timedelta

from service.alerts import dispatch, record_monitor_connectivity
from service.alerts.events import Event
from service.model import Outcome
from service.store.db import open_database
from tests.alerts.conftest import T0, World, alerts, channel, hook_url, mail_url
from tests.support.smtp_sink import SmtpSink
from tests.support.webhook import WebhookReceiver

DEAD = "https://example.org/gone"
FINE = "https://example.org/fine"
ANCHOR = 'the <script>alert("x")</script> paper'


def _setup(world: World) -> None:
    world.article("posts/rot.md", "Link rot & me", [(DEAD, ANCHOR), (FINE, "a fine page")])
    world.check(FINE, Outcome.OK, T0 - timedelta(hours=3), status=200)
    world.archive(
        DEAD,
        "https://web.archive.org/web/20190302000000/https://example.org/gone",
        T0 - timedelta(days=2000),
    )


async def test_broken_then_recovered_one_message_per_channel_each(
    world: World, smtp: SmtpSink, hook: WebhookReceiver
) -> None:
    _setup(world)
    cfg = alerts({"mail": channel(mail_url(smtp)), "hook": channel(hook_url(hook))})
    assert (
        await dispatch(world.db, cfg, T0 - timedelta(hours=2), worker="w1")
    ).enqueued == 0  # first check: no news

    dead_at = world.kill(DEAD, T0)
    stats = await dispatch(world.db, cfg, dead_at, worker="w1")
    assert (stats.enqueued, stats.delivered, stats.messages) == (2, 2, 2)
    assert len(smtp.messages) == 1
    assert len(hook.requests) == 1

    mail = smtp.messages[0]
    assert "1 broken" in mail["Subject"]
    assert mail.rcpt_tos == ["owner@example.org"]
    html = mail.part("html")
    assert "&lt;script&gt;" in html and "<script>" not in html  # anchor text is escaped
    assert "Link rot &amp; me" in html
    text = mail.part("plain")
    for expected in (
        DEAD,
        "not_found",
        "HTTP 404",
        "point the link at an archived copy",
        "2 failed checks in a row",
        "https://web.archive.org/web/20190302000000/",
        "Fix: replace the link with the archived copy",
    ):
        assert expected in text, expected
    body = hook.requests[0].json()
    assert body["title"].startswith("linkwatch: 1 broken")
    assert ANCHOR in body["message"]  # plain text for a webhook
    assert "posts/rot.md" in body["message"]

    # Nothing new: nothing sent again, however often the daemon ticks.
    for minutes in (1, 2, 60):
        await dispatch(world.db, cfg, dead_at + timedelta(minutes=minutes), worker="w1")
    assert (len(smtp.messages), len(hook.requests)) == (1, 1)

    back_at = dead_at + timedelta(hours=5)
    assert world.check(DEAD, Outcome.OK, back_at, status=200) == "dead->alive"
    stats = await dispatch(world.db, cfg, back_at, worker="w1")
    assert stats.delivered == 2
    assert len(smtp.messages) == 2 and len(hook.requests) == 2
    assert "1 recovered" in smtp.messages[1]["Subject"]
    assert "Answers again" in hook.requests[1].json()["message"]

    notes = world.notifications()
    assert len(notes) == 4 and all(n.ok for n in notes)
    assert {a.state for a in world.alerts()} == {"delivered"}


async def test_a_blip_sends_nothing(world: World, hook: WebhookReceiver) -> None:
    _setup(world)
    cfg = alerts({"hook": channel(hook_url(hook))})
    world.check(DEAD, Outcome.OK, T0 - timedelta(hours=1), status=200)
    assert world.check(DEAD, Outcome.NOT_FOUND, T0, status=404) == "alive->suspect"
    await dispatch(world.db, cfg, T0, worker="w1")
    assert world.check(DEAD, Outcome.OK, T0 + timedelta(minutes=30), status=200) == "suspect->alive"
    stats = await dispatch(world.db, cfg, T0 + timedelta(minutes=30), worker="w1")
    assert stats.enqueued == 0
    assert hook.requests == []
    assert world.alerts() == []


async def test_failing_webhook_is_retried_with_backoff_and_delivered_once_after_restart(
    world: World, hook: WebhookReceiver, db_url: str
) -> None:
    _setup(world)
    cfg = alerts({"hook": channel(hook_url(hook))}, retry_initial_s=60, retry_max_s=3600)
    dead_at = world.kill(DEAD, T0)
    hook.fail(500)

    stats = await dispatch(world.db, cfg, dead_at, worker="w1")
    assert (stats.delivered, stats.retrying) == (0, 1)
    assert "500" in stats.errors["hook"]
    [alert] = world.alerts()
    assert (alert.state, alert.attempts, alert.next_attempt_at) == (
        "pending",
        1,
        dead_at + timedelta(seconds=60),
    )

    # Not due yet: no attempt.
    await dispatch(world.db, cfg, dead_at + timedelta(seconds=30), worker="w1")
    assert len(hook.requests) == 1
    # Due: fails again, the delay doubles.
    await dispatch(world.db, cfg, dead_at + timedelta(seconds=61), worker="w1")
    [alert] = world.alerts()
    assert (alert.attempts, alert.next_attempt_at) == (2, dead_at + timedelta(seconds=61 + 120))

    # "Restart": a new process (new engine, new worker name); the receiver recovers meanwhile.
    world.db.dispose()
    hook.recover()
    db2 = open_database(db_url)
    try:
        at = dead_at + timedelta(seconds=200)
        stats = await dispatch(db2, cfg, at, worker="w2")
        assert (stats.delivered, stats.messages) == (1, 1)
        for minutes in (5, 60, 600):
            await dispatch(db2, cfg, at + timedelta(minutes=minutes), worker="w2")
    finally:
        db2.dispose()
    assert len(hook.delivered) == 1
    assert len(hook.requests) == 3  # two 500s, one success
    notes = world.notifications()
    assert [n.ok for n in notes] == [False, False, True]
    assert all("500" in (n.error or "") for n in notes[:2])
    [alert] = world.alerts()
    assert (alert.state, alert.attempts) == ("delivered", 3)


async def test_backoff_is_capped(world: World, hook: WebhookReceiver) -> None:
    _setup(world)
    cfg = alerts({"hook": channel(hook_url(hook))}, retry_initial_s=60, retry_max_s=200)
    at = world.kill(DEAD, T0)
    hook.fail(503)
    delays = []
    for _ in range(4):
        await dispatch(world.db, cfg, at, worker="w1")
        [alert] = world.alerts()
        assert alert.next_attempt_at is not None
        delays.append((alert.next_attempt_at - at).total_seconds())
        at = alert.next_attempt_at
    assert delays == [60, 120, 200, 200]


async def test_alerts_of_a_removed_channel_are_dropped_not_retried(
    world: World, hook: WebhookReceiver
) -> None:
    _setup(world)
    at = world.kill(DEAD, T0)
    hook.fail(500)
    await dispatch(world.db, alerts({"old": channel(hook_url(hook))}), at, worker="w1")
    stats = await dispatch(world.db, alerts({}), at + timedelta(hours=1), worker="w1")
    assert stats.failed == 1
    [alert] = world.alerts()
    assert alert.state == "failed"
    assert "no longer configured" in (world.notifications()[-1].error or "")


async def test_monitor_offline_is_told_once_and_its_end_too(
    world: World, hook: WebhookReceiver
) -> None:
    cfg = alerts({"hook": channel(hook_url(hook))}, offline_after_s=600)
    with world.db.session() as s:  # a short outage: nothing at all
        assert record_monitor_connectivity(s, False, T0, cfg) is None
        assert record_monitor_connectivity(s, True, T0 + timedelta(minutes=5), cfg) is None
    start = T0 + timedelta(hours=1)
    verdicts = []
    for minutes, online in [
        (0, False),
        (5, False),
        (11, False),
        (12, False),
        (30, False),
        (40, True),
        (41, True),
    ]:
        with world.db.session() as s:
            verdicts.append(
                record_monitor_connectivity(s, online, start + timedelta(minutes=minutes), cfg)
            )
    assert verdicts == [None, None, Event.MONITOR_OFFLINE, None, None, Event.MONITOR_ONLINE, None]
    await dispatch(world.db, cfg, start + timedelta(minutes=41), worker="w1")
    [message] = hook.delivered  # both in one tick's message
    body = message.json()
    assert body["title"] == "linkwatch: monitor offline, monitor back online"
    assert "no network since 2025-03-03 13:00 UTC" in body["message"]
    assert "offline for 40 min" in body["message"]
    assert [a.event for a in world.alerts()] == ["monitor_offline", "monitor_online"]
