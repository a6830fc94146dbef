"""One message per channel per tick: the link events grouped by article, with a cap. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.alerts.events import EVENT_ORDER, Event
from service.alerts.message import Citation, LinkEvent, MonitorEvent

NOT_CITED = "(no longer cited by any article)"


@dataclass(frozen=True, slots=True)
class DigestEntry:
    link: LinkEvent
    anchor_texts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArticleGroup:
    location: str
    title: str | None
    entries: tuple[DigestEntry, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    monitor: tuple[MonitorEvent, ...] = ()
    groups: tuple[ArticleGroup, ...] = ()
    omitted: int = 0  # entries beyond the cap ("... and N more")
    counts: dict[Event, int] = field(default_factory=dict)  # distinct link events per kind
    daily: bool = False

    @property
    def shown(self) -> int:
        return sum(len(g.entries) for g in self.groups)


def _entry_key(entry: DigestEntry) -> tuple[int, str]:
    return EVENT_ORDER[entry.link.event], entry.link.url


def build_digest(
    links: Sequence[LinkEvent],
    monitor: Sequence[MonitorEvent] = (),
    *,
    cap: int,
    daily: bool = False,
) -> Digest:
    """Group `links` by citing article; keep the first `cap` entries (broken first).

    The entries beyond the cap are only counted ("... and N more").
    """
    by_article: dict[str, tuple[Citation | None, list[DigestEntry]]] = {}
    for link in links:
        citations: Sequence[Citation | None] = link.citations or (None,)
        for citation in citations:
            key = citation.location if citation is not None else NOT_CITED
            slot = by_article.setdefault(key, (citation, []))
            anchors = citation.anchor_texts if citation is not None else ()
            slot[1].append(DigestEntry(link, anchors))

    ordered = sorted(
        by_article.items(),
        key=lambda kv: (
            min(EVENT_ORDER[e.link.event] for e in kv[1][1]),
            kv[0] == NOT_CITED,
            ((kv[1][0].title if kv[1][0] else None) or kv[0]).lower(),
        ),
    )
    groups: list[ArticleGroup] = []
    budget = cap
    omitted = 0
    for location, (citation, entries) in ordered:
        entries.sort(key=_entry_key)
        kept, dropped = entries[: max(budget, 0)], entries[max(budget, 0) :]
        budget -= len(kept)
        omitted += len(dropped)
        if kept:
            title = citation.title if citation is not None else None
            groups.append(ArticleGroup(location, title, tuple(kept)))

    counts = Counter(link.event for link in links)
    return Digest(
        monitor=tuple(sorted(monitor, key=lambda m: (m.at, EVENT_ORDER[m.event]))),
        groups=tuple(groups),
        omitted=omitted,
        counts=dict(counts),
        daily=daily,
    )
