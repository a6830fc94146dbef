"""reports stage: one report model built from the database, one pure formatter per format.

Usage: `report = build_report(session, now=now, history=(fmt == "html"))`, then
`text = render(report, fmt)`.
"""

from __future__ import annotations

from typing import Literal

from service.errors import UsageError
from service.reports.build import build_report, report_from_links
from service.reports.html import render_html
from service.reports.json_format import render_json
from service.reports.markdown import render_markdown
from service.reports.model import (
    ArchiveRef,
    ArticleReport,
    Availability,
    DayCell,
    LinkReport,
    Report,
    make_article_report,
    only_drifted,
)
from service.reports.table import render_table

Format = Literal["table", "json", "markdown", "html"]
FORMATS: tuple[str, ...] = ("table", "json", "markdown", "html")


def render(
    report: Report, fmt: str, *, width: int = 100, color: bool = False, by_year: bool = True
) -> str:
    """Render a report in one of FORMATS; `width`/`color` only matter for the table, `by_year`
    (the link-rot-by-publication-year section) only for HTML."""
    if fmt == "table":
        return render_table(report, width=width, color=color)
    if fmt == "json":
        return render_json(report)
    if fmt in ("markdown", "md"):
        return render_markdown(report)
    if fmt == "html":
        return render_html(report, by_year=by_year)
    raise UsageError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "ArchiveRef",
    "ArticleReport",
    "Availability",
    "DayCell",
    "Format",
    "LinkReport",
    "Report",
    "build_report",
    "make_article_report",
    "only_drifted",
    "render",
    "render_html",
    "render_json",
    "render_markdown",
    "render_table",
    "report_from_links",
]
