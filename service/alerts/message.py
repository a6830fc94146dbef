"""What alerts talk about (frozen facts, built from the store) and the message a channel sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from service.alerts.events import Event
from service.model import Outcome

Severity = Literal["info", "success", "warning", "failure"]


@dataclass(frozen=True, slots=True)
class Message:
    """One notification: a title, a plain-text body and an HTML body (e-mail uses both)."""

    title: str
    text: str
    html: str
    severity: Severity = "info"


@dataclass(frozen=True, slots=True)
class Citation:
    """An article that cites a link, and the anchor texts it uses for it."""

    location: str
    title: str | None
    tags: tuple[str, ...] = ()
    anchor_texts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArchiveCopy:
    """The archived copy to point the link at instead."""

    url: str
    captured_at: datetime | None
    role: str = "citation"  # "citation" (closest to the citation date) or "latest"


@dataclass(frozen=True, slots=True)
class DriftChange:
    """What a drift comparison found (a `drifted` event): the live page against the capture
    the author saw."""

    verdict: str  # drifted | replaced
    previous: str | None = None  # same, or None for a first comparison
    score: float | None = None  # 1 - cosine: 0 unchanged, 1 unrelated
    containment: float | None = None  # share of the capture's 4-word shingles still present
    word_count_capture: int | None = None
    word_count_live: int | None = None


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """One link event (broken, recovered, moved, reminder, drifted) with what was seen."""

    event: Event
    url: str
    at: datetime  # when the change was seen
    outcome: Outcome | None = None
    http_status: int | None = None
    final_url: str | None = None
    since: datetime | None = None  # broken: first failing check; recovered/reminder: dead since
    failed_checks: int | None = None  # consecutive dead checks (broken)
    total_checks: int | None = None
    citations: tuple[Citation, ...] = ()
    archive: ArchiveCopy | None = None
    drift: DriftChange | None = None  # drifted events only


@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """The monitor lost (or regained) its own network."""

    event: Event
    at: datetime
    since: datetime | None = None  # when the canaries started failing
