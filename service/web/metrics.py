"""/metrics: Prometheus text exposition (format 0.0.4) computed from the database.

Counters are counts of history rows (checks, notifications), so they only grow while rows are
kept; gauges are current states (links by health, latest archive lookups, pending alerts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session

from service.model import Health, Outcome
from service.store.tables import ALL_TABLES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)

T = ALL_TABLES[0].metadata.tables


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


@dataclass
class Family:
    """One metric family: name, type, help, and its samples (label dict, value)."""

    name: str
    type: str
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, suffix: str = "", **labels: str) -> None:
        self.samples.append((suffix, labels, value))

    def render(self) -> str:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.type}"]
        for suffix, labels, value in self.samples:
            label_text = ""
            if labels:
                label_text = (
                    "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items()) + "}"
                )
            lines.append(f"{self.name}{suffix}{label_text} {_number(value)}")
        return "\n".join(lines) + "\n"


def render_families(families: Iterable[Family]) -> str:
    return "".join(f.render() for f in families)


def histogram(
    name: str, help: str, buckets: Sequence[float], counts: Sequence[int], total: float
) -> Family:
    """A histogram family from per-bucket cumulative counts (+Inf last) and the sum."""
    fam = Family(name, "histogram", help)
    for bound, n in zip(buckets, counts, strict=False):
        fam.add(n, "_bucket", le=_number(bound) if bound != int(bound) else f"{bound:.1f}")
    fam.add(counts[-1], "_bucket", le="+Inf")
    fam.add(total, "_sum")
    fam.add(counts[-1], "_count")
    return fam


def collect(session: Session) -> list[Family]:
    """Every metric family, read in a handful of aggregate queries."""
    conn = session.connection()
    checks, links, snaps, saves = T["checks"], T["links"], T["snapshots"], T["save_requests"]
    notes, alerts, articles = T["notifications"], T["alerts"], T["articles"]

    by_outcome = dict.fromkeys((o.value for o in Outcome), 0)
    for outcome, n in conn.execute(
        sa.select(checks.c.outcome, sa.func.count()).group_by(checks.c.outcome)
    ):
        by_outcome[str(outcome)] = int(n)
    checks_total = Family("linkwatch_checks_total", "counter", "Checks recorded, by outcome.")
    for outcome, n in by_outcome.items():
        checks_total.add(n, outcome=outcome)

    by_health = dict.fromkeys((h.value for h in Health if h is not Health.NOT_APPLICABLE), 0)
    query = (
        sa.select(links.c.health, sa.func.count())
        .where(links.c.retired.is_(False))
        .group_by(links.c.health)
    )
    for health, n in conn.execute(query):
        by_health[str(health)] = int(n)
    links_fam = Family("linkwatch_links", "gauge", "Links under watch, by health.")
    for health, n in by_health.items():
        links_fam.add(n, health=health)

    ignored = conn.execute(
        sa.select(sa.func.count())
        .select_from(links)
        .where(links.c.ignored.is_(True), links.c.retired.is_(False))
    ).scalar_one()
    ignored_fam = Family("linkwatch_links_ignored", "gauge", "Links a user marked as not broken.")
    ignored_fam.add(int(ignored))

    n_articles = conn.execute(
        sa.select(sa.func.count()).select_from(articles).where(articles.c.active.is_(True))
    ).scalar_one()
    articles_fam = Family("linkwatch_articles", "gauge", "Articles under watch.")
    articles_fam.add(int(n_articles))

    bounds_ms = [int(b * 1000) for b in LATENCY_BUCKETS_S]
    cols = [sa.func.sum(sa.case((checks.c.latency_ms <= b, 1), else_=0)) for b in bounds_ms]
    row = conn.execute(
        sa.select(
            *cols, sa.func.count(), sa.func.coalesce(sa.func.sum(checks.c.latency_ms), 0)
        ).where(checks.c.outcome != Outcome.OFFLINE.value)
    ).one()
    bucket_counts = [int(v or 0) for v in row[: len(bounds_ms)]] + [int(row[len(bounds_ms)] or 0)]
    latency = histogram(
        "linkwatch_check_latency_seconds",
        "Duration of one check (all hops), from the checks history.",
        LATENCY_BUCKETS_S,
        bucket_counts,
        float(row[len(bounds_ms) + 1] or 0) / 1000.0,
    )

    lookups = Family(
        "linkwatch_archive_lookups",
        "gauge",
        "Latest Wayback lookup per link and role, by result (found, not_found, error).",
    )
    result = sa.case(
        (snaps.c.error.is_not(None), "error"), (snaps.c.found.is_(True), "found"), else_="not_found"
    )
    seen: dict[tuple[str, str], int] = {
        (role, res): 0 for role in ("citation", "latest") for res in ("found", "not_found", "error")
    }
    for role, res, n in conn.execute(
        sa.select(snaps.c.role, result, sa.func.count()).group_by(snaps.c.role, result)
    ):
        seen[(str(role), str(res))] = int(n)
    for (role, res), n in sorted(seen.items()):
        lookups.add(n, role=role, result=res)

    save_fam = Family("linkwatch_archive_saves", "gauge", "Save Page Now requests, by state.")
    states = dict.fromkeys(("queued", "pending", "success", "error", "not_archivable"), 0)
    for state, n in conn.execute(sa.select(saves.c.state, sa.func.count()).group_by(saves.c.state)):
        states[str(state)] = int(n)
    for state, n in states.items():
        save_fam.add(n, state=state)

    sent = Family("linkwatch_alerts_sent_total", "counter", "Alert deliveries that succeeded.")
    failed = Family(
        "linkwatch_alerts_failed_total", "counter", "Alert delivery attempts that failed."
    )
    per_channel: dict[str, list[int]] = {}
    for channel, ok, n in conn.execute(
        sa.select(notes.c.channel, notes.c.ok, sa.func.count()).group_by(
            notes.c.channel, notes.c.ok
        )
    ):
        slot = per_channel.setdefault(str(channel), [0, 0])
        slot[0 if ok else 1] += int(n)
    if not per_channel:
        sent.add(0)
        failed.add(0)
    for channel, (ok_n, bad_n) in sorted(per_channel.items()):
        sent.add(ok_n, channel=channel)
        failed.add(bad_n, channel=channel)

    pending = Family("linkwatch_alerts_pending", "gauge", "Alerts waiting in the outbox.")
    n_pending = conn.execute(
        sa.select(sa.func.count())
        .select_from(alerts)
        .where(alerts.c.state.in_(["pending", "sending"]))
    ).scalar_one()
    pending.add(int(n_pending))

    return [
        checks_total,
        links_fam,
        ignored_fam,
        articles_fam,
        latency,
        lookups,
        save_fam,
        sent,
        failed,
        pending,
    ]


def render_metrics(session: Session) -> str:
    return render_families(collect(session))
