"""alerts stage: transitions become notifications through an outbox; channels through Apprise.

The daemon calls `dispatch(db, settings, now, worker=...)` once per tick.
"""

from service.alerts.dispatcher import DispatchStats, TestResult, dispatch, send_test
from service.alerts.events import Event
from service.alerts.outbox import enqueue_new_transitions, record_monitor_connectivity

__all__ = [
    "DispatchStats",
    "Event",
    "TestResult",
    "dispatch",
    "enqueue_new_transitions",
    "record_monitor_connectivity",
    "send_test",
]
