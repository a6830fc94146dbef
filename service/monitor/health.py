"""The link health state machine (DESIGN.md): a pure function (state, outcome, time) -> state."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from service.model import Health, LinkState, Outcome, Signal
from service.settings import MonitorSettings


@dataclass(frozen=True, slots=True)
class DeathRule:
    """A link is confirmed dead after `signals` consecutive dead signals spanning `span`."""

    signals: int = 3
    span: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, monitor: MonitorSettings) -> DeathRule:
        """The rule configured by monitor.dead_after_signals and monitor.dead_after_hours."""
        return cls(
            signals=monitor.dead_after_signals, span=timedelta(hours=monitor.dead_after_hours)
        )


def step(
    state: LinkState, outcome: Outcome, at: datetime, rule: DeathRule = DeathRule()
) -> LinkState:
    """Apply one outcome seen at `at` to a link's state and return the new state.

    - alive outcomes clear suspicion and death at once;
    - dead outcomes make a link `suspect`, and `dead` once the rule is met;
    - transient and unknown outcomes neither confirm nor clear death (a link never checked
      before becomes `unknown`: it was checked, nothing could be verified);
    - `offline` changes nothing at all.
    """
    signal = outcome.signal
    if signal is Signal.NONE:
        return state
    if signal is Signal.ALIVE:
        return _move(replace(state, dead_streak=0, dead_streak_started=None), Health.ALIVE, at)
    if signal is Signal.DEAD:
        streak = state.dead_streak + 1
        started = state.dead_streak_started if state.dead_streak else at
        new = replace(state, dead_streak=streak, dead_streak_started=started)
        assert started is not None
        confirmed = streak >= rule.signals and at - started >= rule.span
        if confirmed or state.health is Health.DEAD:
            return _move(new, Health.DEAD, at)
        return _move(new, Health.SUSPECT, at)
    # transient or unknown
    if state.health is Health.UNCHECKED:
        return _move(state, Health.UNKNOWN, at)
    return state


def _move(state: LinkState, health: Health, at: datetime) -> LinkState:
    if state.health is health:
        return state
    return replace(state, health=health, since=at)
