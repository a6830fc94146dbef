"""Which channels get which events: per channel `events`, `articles` and `tags`. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from service.alerts.events import LINK_EVENTS, Event
from service.alerts.message import Citation
from service.settings import ChannelSettings


def _norm(location: str) -> str:
    return location.strip().rstrip("/")


def article_matches(channel: ChannelSettings, citation: Citation) -> bool:
    """An article is in a channel's scope when the channel names it or one of its tags.

    With neither `articles` nor `tags` set every article is in scope; with both, either one
    is enough.
    """
    if not channel.articles and not channel.tags:
        return True
    if channel.articles and _norm(citation.location) in {_norm(a) for a in channel.articles}:
        return True
    wanted = {t.strip().lower() for t in channel.tags}
    return bool(wanted & {t.strip().lower() for t in citation.tags})


def visible_citations(
    channel: ChannelSettings, citations: Sequence[Citation]
) -> tuple[Citation, ...]:
    return tuple(c for c in citations if article_matches(channel, c))


def wants(channel: ChannelSettings, event: Event, citations: Sequence[Citation] = ()) -> bool:
    """Whether `channel` gets `event` about a link cited by `citations`."""
    if event == Event.TEST:
        return True
    if event.value not in channel.events:
        return False
    if event not in LINK_EVENTS:
        return True  # monitor events are not about an article
    if not channel.articles and not channel.tags:
        return True
    return bool(visible_citations(channel, citations))
