"""Drift comparisons for the sample database (tests/reports/sample.py), stored as the drift stage
stores them (`drift_checks` rows), at times relative to NOW.

- alive.example/page: same 40 days ago, drifted 5 days ago, then a failed comparison (no verdict)
  yesterday: its verdict is still `drifted`, drift score 0.55; it gets a citation capture;
- flaky.example/: replaced 3 days ago (drift score 0.95);
- moved.example/old: same (drift score 0.03);
- gone.example/story (dead now): drifted 60 days ago, before it died.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from service.store.tables import DriftRow, SnapshotRow
from tests.reports.sample import NOW, WAYBACK, SampleIds

ALIVE = "https://alive.example/page"
FLAKY = "https://flaky.example/"
MOVED = "https://moved.example/old"
GONE = "https://gone.example/story"
ALIVE_CAPTURE = f"{WAYBACK}/20180526080000/{ALIVE}"

# (url, days before NOW, verdict, cosine)
COMPARISONS: tuple[tuple[str, float, str, float | None], ...] = (
    (ALIVE, 40, "same", 0.95),
    (ALIVE, 5, "drifted", 0.45),
    (ALIVE, 1, "error", None),
    (FLAKY, 3, "replaced", 0.05),
    (MOVED, 2, "same", 0.97),
    (GONE, 60, "drifted", 0.5),
)


def add_drift(session: Session, ids: SampleIds, now: datetime = NOW) -> None:
    captured = datetime(2018, 5, 26, 8, tzinfo=UTC)
    session.add(
        SnapshotRow(
            link_id=ids.links[ALIVE],
            role="citation",
            looked_up_at=now,
            found=True,
            archive_url=ALIVE_CAPTURE,
            captured_at=captured,
            status=200,
        )
    )
    for url, days, verdict, cosine in COMPARISONS:
        session.add(
            DriftRow(
                link_id=ids.links[url],
                checked_at=now - timedelta(days=days),
                capture_timestamp=captured,
                verdict=verdict,
                cosine=cosine,
                containment=cosine,
                word_count_capture=900 if cosine is not None else None,
                word_count_live=850 if cosine is not None else None,
                error="timeout" if verdict == "error" else None,
            )
        )
    session.flush()
