"""The health state machine: table-driven cases and properties over random outcome sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.model import Health, LinkState, Outcome, Signal
from service.monitor.health import DeathRule, step

T0 = datetime(2024, 1, 1, tzinfo=UTC)
RULE = DeathRule()  # 3 dead signals spanning 24 h
H = timedelta(hours=1)

ALIVE = [o for o in Outcome if o.signal is Signal.ALIVE]
DEAD = [o for o in Outcome if o.signal is Signal.DEAD]
TRANSIENT = [o for o in Outcome if o.signal is Signal.TRANSIENT]
UNKNOWN = [o for o in Outcome if o.signal is Signal.UNKNOWN]


def run(
    events: list[tuple[Outcome, float]], rule: DeathRule = RULE, start: LinkState | None = None
) -> LinkState:
    state = start or LinkState()
    for outcome, hours in events:
        state = step(state, outcome, T0 + hours * H, rule)
    return state


NF, OK, TO, BL, OFF = (
    Outcome.NOT_FOUND,
    Outcome.OK,
    Outcome.TIMEOUT,
    Outcome.BLOCKED,
    Outcome.OFFLINE,
)

TABLE: list[tuple[str, list[tuple[Outcome, float]], Health]] = [
    ("nothing yet", [], Health.UNCHECKED),
    ("offline on a new link", [(OFF, 0)], Health.UNCHECKED),
    ("first ok", [(OK, 0)], Health.ALIVE),
    ("moved is alive", [(Outcome.MOVED, 0)], Health.ALIVE),
    ("first transient", [(TO, 0)], Health.UNKNOWN),
    ("first blocked", [(BL, 0)], Health.UNKNOWN),
    ("first dead signal", [(NF, 0)], Health.SUSPECT),
    ("two dead signals over 48 h", [(NF, 0), (NF, 48)], Health.SUSPECT),
    ("three dead signals within 23 h", [(NF, 0), (NF, 1), (NF, 23)], Health.SUSPECT),
    ("three dead signals spanning exactly 24 h", [(NF, 0), (NF, 1), (NF, 24)], Health.DEAD),
    ("dead then a fourth quick one", [(NF, 0), (NF, 1), (NF, 2), (NF, 24)], Health.DEAD),
    (
        "mixed dead outcomes count",
        [(Outcome.DNS_ERROR, 0), (Outcome.SOFT_404, 7), (Outcome.REFUSED, 30)],
        Health.DEAD,
    ),
    (
        "transients do not break the streak",
        [(NF, 0), (TO, 5), (NF, 10), (BL, 12), (NF, 25)],
        Health.DEAD,
    ),
    (
        "offline does not break the streak",
        [(NF, 0), (OFF, 5), (NF, 10), (OFF, 12), (NF, 25)],
        Health.DEAD,
    ),
    ("alive resets the streak", [(NF, 0), (NF, 10), (OK, 20), (NF, 30)], Health.SUSPECT),
    ("alive clears death at once", [(NF, 0), (NF, 12), (NF, 24), (OK, 25)], Health.ALIVE),
    ("transient keeps death", [(NF, 0), (NF, 12), (NF, 24), (TO, 25)], Health.DEAD),
    ("blocked keeps suspicion", [(NF, 0), (BL, 1)], Health.SUSPECT),
    (
        "transient keeps alive",
        [(OK, 0), (Outcome.SERVER_ERROR, 1), (Outcome.RATE_LIMITED, 2)],
        Health.ALIVE,
    ),
    ("offline keeps alive", [(OK, 0), (OFF, 1)], Health.ALIVE),
    ("unknown becomes alive", [(BL, 0), (OK, 1)], Health.ALIVE),
    ("unknown becomes suspect", [(BL, 0), (NF, 1)], Health.SUSPECT),
    ("loop of redirects is a dead signal", [(Outcome.TOO_MANY_REDIRECTS, 0)], Health.SUSPECT),
]


@pytest.mark.parametrize(
    ("events", "expected"), [(e, h) for _, e, h in TABLE], ids=[n for n, _, _ in TABLE]
)
def test_table(events: list[tuple[Outcome, float]], expected: Health) -> None:
    assert run(events).health is expected


def test_since_is_the_time_of_the_last_change() -> None:
    state = run([(OK, 0), (OK, 5), (NF, 10), (NF, 11), (TO, 12)])
    assert state.health is Health.SUSPECT
    assert state.since == T0 + 10 * H
    assert state.dead_streak == 2
    assert state.dead_streak_started == T0 + 10 * H


def test_alive_clears_streak_fields() -> None:
    state = run([(NF, 0), (NF, 30), (NF, 60), (OK, 61)])
    assert state == LinkState(
        health=Health.ALIVE, since=T0 + 61 * H, dead_streak=0, dead_streak_started=None
    )


def test_custom_rule_one_signal_no_span() -> None:
    assert run([(NF, 0)], DeathRule(signals=1, span=timedelta(0))).health is Health.DEAD


def test_custom_rule_span_dominates() -> None:
    rule = DeathRule(signals=2, span=timedelta(days=3))
    assert run([(NF, 0), (NF, 1), (NF, 71)], rule).health is Health.SUSPECT
    assert run([(NF, 0), (NF, 1), (NF, 72)], rule).health is Health.DEAD


def test_stored_dead_link_stays_dead_on_new_streak() -> None:
    """A dead link whose streak was reset by a migration or repair stays dead on dead signals."""
    start = LinkState(health=Health.DEAD, since=T0, dead_streak=0)
    state = step(start, NF, T0 + H, RULE)
    assert state.health is Health.DEAD
    assert state.since == T0
    assert state.dead_streak == 1


def test_not_applicable_is_left_alone_by_transients() -> None:
    start = LinkState(health=Health.NOT_APPLICABLE)
    assert step(start, TO, T0, RULE) == start


# -- properties ---------------------------------------------------------------------------

outcomes = st.sampled_from(list(Outcome))
gaps_min = st.integers(min_value=0, max_value=3 * 24 * 60)  # up to 3 days between checks
events_st = st.lists(st.tuples(outcomes, gaps_min), max_size=40)
rules = st.builds(
    DeathRule,
    signals=st.integers(min_value=1, max_value=5),
    span=st.integers(min_value=0, max_value=96).map(lambda h: timedelta(hours=h)),
)


def timeline(events: list[tuple[Outcome, int]]) -> list[tuple[Outcome, datetime]]:
    at, out = T0, []
    for outcome, gap in events:
        at += timedelta(minutes=gap)
        out.append((outcome, at))
    return out


def reference_health(seen: list[tuple[Outcome, datetime]], rule: DeathRule) -> Health:
    """An independent statement of DESIGN.md's rule over the whole history."""
    signals = [(o.signal, at) for o, at in seen if o.signal is not Signal.NONE]
    if not signals:
        return Health.UNCHECKED
    last_alive = max((i for i, (s, _) in enumerate(signals) if s is Signal.ALIVE), default=-1)
    dead_times = [at for s, at in signals[last_alive + 1 :] if s is Signal.DEAD]
    if dead_times:
        met = len(dead_times) >= rule.signals and dead_times[-1] - dead_times[0] >= rule.span
        return Health.DEAD if met else Health.SUSPECT
    return Health.ALIVE if last_alive >= 0 else Health.UNKNOWN


@settings(max_examples=400, deadline=None)
@given(events=events_st, rule=rules)
def test_matches_reference_after_every_step(
    events: list[tuple[Outcome, int]], rule: DeathRule
) -> None:
    state = LinkState()
    seen: list[tuple[Outcome, datetime]] = []
    for outcome, at in timeline(events):
        before = state
        state = step(state, outcome, at, rule)
        seen.append((outcome, at))
        assert state.health is reference_health(seen, rule)
        if state.health is not before.health:
            assert state.since == at  # every change is stamped with the check that caused it
        else:
            assert state.since == before.since


@settings(max_examples=400, deadline=None)
@given(events=events_st, rule=rules)
def test_dead_never_without_n_signals_spanning_t(
    events: list[tuple[Outcome, int]], rule: DeathRule
) -> None:
    state = LinkState()
    streak: list[datetime] = []  # dead signals since the last alive one
    for outcome, at in timeline(events):
        if outcome.signal is Signal.ALIVE:
            streak = []
        elif outcome.signal is Signal.DEAD:
            streak.append(at)
        state = step(state, outcome, at, rule)
        if state.health is Health.DEAD:
            assert len(streak) >= rule.signals
            assert streak[-1] - streak[0] >= rule.span
        assert state.dead_streak == len(streak)
        assert state.dead_streak_started == (streak[0] if streak else None)


@settings(max_examples=300, deadline=None)
@given(events=events_st, rule=rules, alive=st.sampled_from(ALIVE), gap=gaps_min)
def test_any_alive_outcome_clears_at_once(
    events: list[tuple[Outcome, int]], rule: DeathRule, alive: Outcome, gap: int
) -> None:
    seq = timeline([*events, (alive, gap)])
    state = LinkState()
    for outcome, at in seq:
        state = step(state, outcome, at, rule)
    assert state.health is Health.ALIVE
    assert state.dead_streak == 0
    assert state.dead_streak_started is None


@settings(max_examples=300, deadline=None)
@given(
    events=events_st,
    rule=rules,
    offline_runs=st.lists(
        st.tuples(st.integers(min_value=0, max_value=40), st.integers(1, 5)), max_size=6
    ),
)
def test_offline_runs_never_move_health(
    events: list[tuple[Outcome, int]], rule: DeathRule, offline_runs: list[tuple[int, int]]
) -> None:
    """Runs of `offline` outcomes inserted anywhere leave the state exactly as without them."""
    seq = timeline(events)
    with_offline = list(seq)
    for where, length in sorted(offline_runs, reverse=True):
        pos = min(where, len(with_offline))
        at = with_offline[pos - 1][1] if pos else T0
        with_offline[pos:pos] = [(Outcome.OFFLINE, at)] * length

    def final(s: list[tuple[Outcome, datetime]]) -> LinkState:
        state = LinkState()
        for outcome, at in s:
            new = step(state, outcome, at, rule)
            if outcome is Outcome.OFFLINE:
                assert new == state
            state = new
        return state

    assert final(with_offline) == final(seq)


@given(
    start=st.builds(
        LinkState,
        health=st.sampled_from(list(Health)),
        since=st.just(T0),
        dead_streak=st.integers(0, 5),
        dead_streak_started=st.just(T0),
    ),
    outcome=st.sampled_from(TRANSIENT + UNKNOWN),
)
def test_transient_and_unknown_never_confirm_nor_clear(start: LinkState, outcome: Outcome) -> None:
    new = step(start, outcome, T0 + H, RULE)
    if start.health is Health.UNCHECKED:
        assert new.health is Health.UNKNOWN
    else:
        assert new == start


@given(start_health=st.sampled_from(list(Health)), outcome=st.sampled_from(DEAD))
def test_a_single_dead_signal_never_confirms_under_default_rule(
    start_health: Health, outcome: Outcome
) -> None:
    new = step(LinkState(health=start_health, since=T0), outcome, T0 + H, RULE)
    expected = Health.DEAD if start_health is Health.DEAD else Health.SUSPECT
    assert new.health is expected
