"""reports stage: one report model built from the database, one pure formatter per format.

Usage: `report = build_report(session, now=now, history=(fmt == "html"))`, then
`text = render(report, fmt)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from service.errors import UsageError
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

if TYPE_CHECKING:
    from service.reports.build import build_report, report_from_links
    from service.reports.html import render_html
    from service.reports.json_format import render_json
    from service.reports.markdown import render_markdown
    from service.reports.table import render_table

# Imported on first use: the builder needs SQLAlchemy and the HTML formatter the publication
# queries, and `linkwatch check` starts its checks before it imports either (service.oneshot).
_LAZY = {
    "build_report": "service.reports.build",
    "report_from_links": "service.reports.build",
    "render_html": "service.reports.html",
    "render_json": "service.reports.json_format",
    "render_markdown": "service.reports.markdown",
    "render_table": "service.reports.table",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Format = Literal["table", "json", "markdown", "html"]
FORMATS: tuple[str, ...] = ("table", "json", "markdown", "html")


def render(
    report: Report, fmt: str, *, width: int = 100, color: bool = False, by_year: bool = True
) -> str:
    """Render a report in one of FORMATS; `width`/`color` only matter for the table, `by_year`
    (the link-rot-by-publication-year section) only for HTML."""
    if fmt == "table":
        from service.reports.table import render_table

        return render_table(report, width=width, color=color)
    if fmt == "json":
        from service.reports.json_format import render_json

        return render_json(report)
    if fmt in ("markdown", "md"):
        from service.reports.markdown import render_markdown

        return render_markdown(report)
    if fmt == "html":
        from service.reports.html import render_html

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
