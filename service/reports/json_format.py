"""JSON report: an array with one object per link occurrence, keys in a stable order."""

from __future__ import annotations

import json
from typing import Any

from service.reports._text import iso
from service.reports.model import WINDOWS, ArchiveRef, LinkReport, Report


def _archive(ref: ArchiveRef | None) -> dict[str, str] | None:
    if ref is None:
        return None
    return {"url": ref.url, "timestamp": iso(ref.timestamp) or ""}


def link_object(link: LinkReport, title: str | None = None) -> dict[str, Any]:
    """The JSON object of one occurrence (DESIGN.md fields first, then the extras)."""
    return {
        "article": link.article,
        "article_id": link.article_id,
        "article_title": title,
        "anchor_text": link.anchor_text,
        "href": link.href,
        "url": link.url,
        "kind": link.kind.value,
        "position": link.position,
        "line": link.line,
        "outcome": link.outcome.value if link.outcome else None,
        "health": link.health.value,
        "since": iso(link.since),
        "http_status": link.http_status,
        "final_url": link.final_url,
        "moved_to": link.moved_to,
        "checked_at": iso(link.checked_at),
        "checks": {f"{d}d": link.window(d).checks for d in WINDOWS}
        if link.link_id is not None
        else None,
        "uptime": {f"{d}d": link.window(d).uptime for d in WINDOWS}
        if link.link_id is not None
        else None,
        "archive": _archive(link.archive),
        "archive_latest": _archive(link.archive_latest),
        "at_risk": link.at_risk,
        "ignored": link.ignored,
        "drift": link.drift,
        "drift_score": link.drift_score,
        "drift_checked_at": iso(link.drift_checked_at),
        "warnings": list(link.warnings),
        "link_id": link.link_id,
    }


def report_objects(report: Report) -> list[dict[str, Any]]:
    return [
        link_object(link, article.title) for article in report.articles for link in article.links
    ]


def render_json(report: Report) -> str:
    """The report as a JSON array (UTF-8 text, 2-space indent, trailing newline)."""
    return json.dumps(report_objects(report), indent=2, ensure_ascii=False) + "\n"
