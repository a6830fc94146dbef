"""Pure parts of alerts: events, schedules, routing, digest and rendering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.alerts.digest import build_digest
from service.alerts.events import Event, event_for_transition
from service.alerts.message import ArchiveCopy, Citation, LinkEvent
from service.alerts.render import render_digest
from service.alerts.routing import visible_citations, wants
from service.alerts.schedule import next_daily, quiet_until, release_at, retry_delay_s
from service.model import Outcome
from service.settings import ChannelSettings

AT = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("old", "new", "event"),
    [
        ("suspect", "dead", Event.BROKEN),
        ("unchecked", "dead", Event.BROKEN),
        ("dead", "alive", Event.RECOVERED),
        ("alive", "suspect", None),
        ("suspect", "alive", None),
        ("unchecked", "alive", None),
        ("alive", "unknown", None),
        ("unknown", "alive", None),
    ],
)
def test_only_death_and_recovery_are_events(old: str, new: str, event: Event | None) -> None:
    assert event_for_transition(old, new) == event


def test_quiet_window_wraps_midnight() -> None:
    day = AT.replace(hour=0)
    assert quiet_until("22:00-07:00", day.replace(hour=23)) == day.replace(hour=7) + timedelta(
        days=1
    )
    assert quiet_until("22:00-07:00", day.replace(hour=3)) == day.replace(hour=7)
    assert quiet_until("22:00-07:00", day.replace(hour=7)) is None
    assert quiet_until("22:00-07:00", day.replace(hour=12)) is None
    assert quiet_until("12:00-13:30", day.replace(hour=13)) == day.replace(hour=13, minute=30)
    assert quiet_until(None, day) is None


def test_release_times() -> None:
    night = AT.replace(hour=23)
    morning = AT.replace(hour=7) + timedelta(days=1)
    kw = {"daily_at": "08:00", "quiet_hours": "22:00-07:00", "now": night}
    assert release_at(Event.BROKEN, digest="immediate", **kw) == night  # type: ignore[arg-type]
    assert release_at(Event.RECOVERED, digest="immediate", **kw) == morning  # type: ignore[arg-type]
    assert release_at(Event.RECOVERED, digest="daily", **kw) == morning.replace(hour=8)  # type: ignore[arg-type]
    assert next_daily("08:00", AT.replace(hour=8)) == AT.replace(hour=8)
    assert next_daily("08:00", AT) == AT.replace(hour=8) + timedelta(days=1)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [retry_delay_s(n, 60, 6 * 3600) for n in range(10)] == [
        60,
        120,
        240,
        480,
        960,
        1920,
        3840,
        7680,
        15360,
        21600,
    ]
    assert retry_delay_s(10_000, 60, 600) == 600


def test_routing_rules() -> None:
    ops = Citation("posts/ops.md", "Ops", ("Ops",))
    blog = Citation("posts/blog.md", "Blog", ())
    everyone = ChannelSettings()
    tagged = ChannelSettings(tags=["ops"], events=["broken"])
    named = ChannelSettings(articles=["posts/blog.md"])
    assert wants(everyone, Event.BROKEN, [blog]) and wants(everyone, Event.MONITOR_OFFLINE)
    assert not wants(everyone, Event.MOVED, [blog])  # opt-in
    assert wants(tagged, Event.BROKEN, [blog, ops]) and not wants(tagged, Event.BROKEN, [blog])
    assert not wants(tagged, Event.RECOVERED, [ops])
    assert not wants(tagged, Event.MONITOR_OFFLINE)
    assert visible_citations(named, [blog, ops]) == (blog,)
    assert wants(tagged, Event.TEST)


def _link(url: str, event: Event, *locations: str, archive: bool = True) -> LinkEvent:
    return LinkEvent(
        event=event,
        url=url,
        at=AT,
        outcome=Outcome.NOT_FOUND if event == Event.BROKEN else Outcome.OK,
        http_status=404 if event == Event.BROKEN else 200,
        since=AT - timedelta(days=2),
        failed_checks=3,
        total_checks=10,
        citations=tuple(
            Citation(loc, f"Title of {loc}", (), (f"anchor {url}",)) for loc in locations
        ),
        archive=ArchiveCopy("https://web.archive.org/web/2019/" + url, AT - timedelta(days=900))
        if archive
        else None,
    )


def test_digest_groups_by_article_puts_breakage_first_and_caps() -> None:
    links = [
        _link("https://a/1", Event.RECOVERED, "a.md"),
        _link("https://a/2", Event.BROKEN, "a.md", "b.md"),
        _link("https://b/1", Event.BROKEN, "b.md"),
        _link("https://c/1", Event.BROKEN),
    ]
    digest = build_digest(links, cap=3)
    assert [g.location for g in digest.groups] == ["a.md", "b.md"]
    assert [e.link.url for e in digest.groups[0].entries] == ["https://a/2", "https://a/1"]
    assert [e.link.url for e in digest.groups[1].entries] == ["https://a/2"]
    assert digest.omitted == 2  # b/1 and the uncited c/1
    assert digest.counts == {Event.RECOVERED: 1, Event.BROKEN: 3}
    full = build_digest(links, cap=100)
    assert full.omitted == 0 and full.groups[-1].location.startswith("(no longer cited")


def test_render_says_what_was_seen_and_what_to_do() -> None:
    message = render_digest(
        build_digest(
            [
                _link("https://a/1", Event.BROKEN, "a.md"),
                _link("https://a/2", Event.BROKEN, "a.md", archive=False),
                _link("https://a/3", Event.RECOVERED, "a.md"),
            ],
            cap=10,
        )
    )
    assert message.title == "linkwatch: 2 broken, 1 recovered"
    assert message.severity == "failure"
    text = message.text
    assert "Title of a.md (a.md)" in text
    assert '* [BROKEN] "anchor https://a/1" -> https://a/1' in text
    assert "Seen: not_found, HTTP 404. The server says the page is gone" in text
    assert "Broken: 3 failed checks in a row since 2025-03-01 12:00 UTC" in text
    assert (
        "Archived copy: https://web.archive.org/web/2019/https://a/1 (captured 2022-09-15)" in text
    )
    assert "No archived copy: consider saving it." in text
    assert "Answers again since 2025-03-03 12:00 UTC" in text
    assert '<a href="https://web.archive.org/web/2019/https://a/1">' in message.html


def test_html_never_trusts_anchor_text_or_urls() -> None:
    evil = LinkEvent(
        event=Event.BROKEN,
        url='javascript:alert(1)//"><img src=x>',
        at=AT,
        citations=(Citation("x.md", "<b>T</b>", (), ("<script>1</script>",)),),
    )
    html = render_digest(build_digest([evil], cap=5)).html
    assert "<script>" not in html and "<img" not in html and "<b>T</b>" not in html
    assert 'href="javascript' not in html
