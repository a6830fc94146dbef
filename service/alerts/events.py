"""Alert events: what happened, and which transitions of link health are worth telling."""

from __future__ import annotations

from enum import StrEnum

from service.model import Health


class Event(StrEnum):
    BROKEN = "broken"  # a link became dead
    RECOVERED = "recovered"  # a dead link answers again
    MOVED = "moved"  # a permanent redirect appeared: update the link
    MONITOR_OFFLINE = "monitor_offline"  # the canaries failed for longer than offline_after_s
    MONITOR_ONLINE = "monitor_online"  # ... and they answer again
    REMINDER = "reminder"  # still dead, every reminder_days
    DRIFTED = "drifted"  # the page answers but its content drifted since cited (issue 11)
    TEST = "test"  # `linkwatch alerts test`


# Held during quiet hours (everything else goes out at once).
NON_URGENT: frozenset[Event] = frozenset(
    {Event.RECOVERED, Event.MOVED, Event.REMINDER, Event.DRIFTED}
)
LINK_EVENTS: frozenset[Event] = frozenset(
    {Event.BROKEN, Event.RECOVERED, Event.MOVED, Event.REMINDER, Event.DRIFTED}
)
MONITOR_EVENTS: frozenset[Event] = frozenset({Event.MONITOR_OFFLINE, Event.MONITOR_ONLINE})

# Order of sections in a digest: the most pressing first.
EVENT_ORDER: dict[Event, int] = {e: i for i, e in enumerate(Event)}


def event_for_transition(from_health: str, to_health: str) -> Event | None:
    """The event a health transition produces, or None (suspect, unknown, first checks ...)."""
    if to_health == Health.DEAD and from_health != Health.DEAD:
        return Event.BROKEN
    if from_health == Health.DEAD and to_health == Health.ALIVE:
        return Event.RECOVERED
    return None
