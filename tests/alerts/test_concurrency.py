"""Two daemons on one database: every transition reaches every channel exactly once."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import timedelta

import pytest

from service.alerts import dispatch
from service.store.db import Database, open_database
from tests.alerts.conftest import T0, World, alerts, channel, hook_url, mail_url
from tests.support.smtp_sink import SmtpSink
from tests.support.webhook import WebhookReceiver

URL_RE = re.compile(r"https://site\d\.example/page/\d+")


def _urls(text: str) -> set[str]:
    """The distinct link URLs one message talks about."""
    return set(URL_RE.findall(text))


LINKS = [f"https://site{i % 3}.example/page/{i}" for i in range(12)]


async def test_two_dispatchers_deliver_each_transition_once_per_channel(
    world: World, db_url: str, smtp: SmtpSink, hook: WebhookReceiver
) -> None:
    for n in range(3):
        world.article(f"posts/{n}.md", f"Post {n}", [(u, f"anchor {u}") for u in LINKS[n::3]])
    cfg = alerts(
        {"mail": channel(mail_url(smtp)), "hook": channel(hook_url(hook))},
        digest_cap=100,
        retry_initial_s=1,
        retry_max_s=1,
    )
    other: Database = open_database(db_url)  # a second process: its own engine and pool
    try:
        at = T0
        # Links die in waves; both daemons tick at the same moments, and the webhook fails
        # now and then, so retries race too.
        for wave in range(4):
            for url in LINKS[wave * 3 : wave * 3 + 3]:
                world.kill(url, at)
            at += timedelta(hours=1, seconds=1)
            if wave == 1:
                hook.fail(500, times=1)
            for tick in range(3):
                now = at + timedelta(seconds=2 * tick)
                await asyncio.gather(
                    dispatch(world.db, cfg, now, worker="daemon-a"),
                    dispatch(other, cfg, now, worker="daemon-b"),
                )
    finally:
        other.dispose()

    hook_urls = Counter(u for r in hook.delivered for u in _urls(r.json()["message"]))
    mail_urls = Counter(u for m in smtp.messages for u in _urls(m.part("plain")))
    assert hook_urls == Counter({u: 1 for u in LINKS})
    assert mail_urls == Counter({u: 1 for u in LINKS})
    rows = world.alerts()
    assert len(rows) == 2 * len(LINKS)
    assert {r.state for r in rows} == {"delivered"}
    ok = Counter((n.alert_id) for n in world.notifications() if n.ok)
    assert set(ok.values()) == {1}


@pytest.mark.postgres
async def test_concurrent_enqueue_creates_one_row_per_event_and_channel(
    pg_server: str, hook: WebhookReceiver
) -> None:
    from tests.conftest import _reset_pg

    _reset_pg(pg_server)
    dbs = [open_database(pg_server) for _ in range(4)]
    try:
        world = World(dbs[0])
        world.article("posts/a.md", "A", [(u, "x") for u in LINKS])
        for url in LINKS:
            world.kill(url, T0)
        hook.fail(500)  # nothing gets delivered: only the enqueue is measured
        cfg = alerts({"hook": channel(hook_url(hook)), "other": channel(hook_url(hook, "other"))})
        now = T0 + timedelta(hours=2)
        results = await asyncio.gather(
            *(dispatch(d, cfg, now, worker=f"w{i}") for i, d in enumerate(dbs))
        )
        assert sum(r.enqueued for r in results) == 2 * len(LINKS)
        keys = Counter((a.event_key, a.channel) for a in world.alerts())
        assert len(keys) == 2 * len(LINKS) and set(keys.values()) == {1}
        # Each channel's alerts were claimed by exactly one of the four dispatchers.
        assert sum(r.claimed for r in results) == 2 * len(LINKS)
    finally:
        for d in dbs:
            d.dispose()
