"""Terminal table: grouped by article, broken links first, with what to do about them.

Laid out by hand (fixed columns, the link column wrapped) rather than with a rich Table, which
takes seconds for the tens of thousands of rows of a large publication. Colours, when asked for,
are plain ANSI SGR codes. Untrusted text is printed as text: control characters are replaced so
an anchor text cannot move the cursor or recolour the terminal.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter

from service.model import Health
from service.reports._text import HEALTH_LABEL, day, drift_sentence, summary_line, uptime
from service.reports.model import ArticleReport, LinkReport, Report

SGR: dict[str, str] = {
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
    "italic": "\x1b[3m",
    "red": "\x1b[1;31m",
    "yellow": "\x1b[33m",
    "magenta": "\x1b[35m",
    "green": "\x1b[32m",
    "cyan": "\x1b[36m",
}
RESET = "\x1b[0m"
HEALTH_STYLE: dict[Health, str] = {
    Health.DEAD: "red",
    Health.SUSPECT: "yellow",
    Health.UNKNOWN: "magenta",
    Health.UNCHECKED: "dim",
    Health.ALIVE: "green",
    Health.NOT_APPLICABLE: "dim",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

HEALTH_W, OUTCOME_W, SINCE_W, UP_W, LINE_W = 9, 20, 10, 12, 6
GAP = "  "


def clean(text: str) -> str:
    """One line of printable text: control characters (ESC, CR, ...) become spaces."""
    return _CONTROL.sub(" ", text)


class _Out:
    def __init__(self, color: bool) -> None:
        self.color = color
        self.lines: list[str] = []

    def style(self, text: str, style: str | None) -> str:
        if not self.color or not style or not text:
            return text
        return SGR[style] + text + RESET

    def add(self, text: str = "", style: str | None = None) -> None:
        self.lines.append(self.style(text, style))


def _outcome(link: LinkReport) -> str:
    if link.outcome is None:
        return "-"
    status = f" ({link.http_status})" if link.http_status is not None else ""
    return f"{link.outcome.value}{status}"


def _link_lines(link: LinkReport) -> list[tuple[str, str | None]]:
    """The link cell's paragraphs with their style, before wrapping."""
    parts: list[tuple[str, str | None]] = [(clean(link.anchor_text) or "(no text)", "bold")]
    parts.append((clean(link.url or link.href), None))
    if link.ignored:
        parts.append(("(ignored: marked not broken)", "dim"))
    if link.moved_to:
        parts.append(("moved to: " + clean(link.moved_to), None))
    if link.broken and link.explanation:
        parts.append((link.explanation, "italic"))
    parts.extend(("warning: " + clean(w), "yellow") for w in link.warnings)
    if link.drifted and link.drift is not None:
        parts.append((drift_sentence(link.drift, link.drift_score), "yellow"))
    archive = link.best_archive
    if link.broken and archive is not None:
        parts.append(("archived: " + clean(archive.url), "cyan"))
    elif link.drifted and link.archive is not None and not link.broken:
        parts.append(("as cited: " + clean(link.archive.url), "cyan"))
    elif link.at_risk:
        parts.append(("no archived copy known", "dim"))
    return parts


# Characters textwrap rewrites (expand_tabs, replace_whitespace) even in a line that fits.
_REWRITTEN = re.compile(r"[\t\n\x0b\x0c\r]")


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` characters (textwrap, whose answer for a line that
    already fits, and ends in no whitespace textwrap would drop, is the line itself)."""
    if 0 < len(text) <= width and not text[-1].isspace() and not _REWRITTEN.search(text):
        return [text]
    return textwrap.wrap(
        text, width, break_long_words=True, break_on_hyphens=False, drop_whitespace=True
    ) or [""]


def _article(out: _Out, article: ArticleReport, width: int) -> None:
    heading = out.style(clean(article.name), "bold")
    if article.title:
        heading += "  " + out.style(clean(article.location), "dim")
    out.lines.append(heading)
    out.add(summary_line(article))
    rows = [lk for lk in article.links if lk.health is not Health.NOT_APPLICABLE]
    if rows:
        fixed = HEALTH_W + OUTCOME_W + SINCE_W + UP_W + LINE_W + 5 * len(GAP)
        link_w = max(20, width - fixed)
        header = GAP.join(
            [
                "Health".ljust(HEALTH_W),
                "Link".ljust(link_w),
                "Outcome".ljust(OUTCOME_W),
                "Since".ljust(SINCE_W),
                "Up 30d".rjust(UP_W),
                "Line".rjust(LINE_W),
            ]
        )
        out.add(header.rstrip(), "bold")
        out.add("─" * min(width, len(header)))
        for link in rows:
            cell: list[tuple[str, str | None]] = []
            for text, style in _link_lines(link):
                cell.extend((piece, style) for piece in _wrap(text, link_w))
            first = GAP.join(
                [
                    out.style(HEALTH_LABEL[link.health].ljust(HEALTH_W), HEALTH_STYLE[link.health]),
                    out.style(cell[0][0].ljust(link_w), cell[0][1]),
                    _outcome(link).ljust(OUTCOME_W),
                    day(link.since).ljust(SINCE_W),
                    uptime(link.window(30)).rjust(UP_W),
                    str(link.line).rjust(LINE_W),
                ]
            )
            out.lines.append(first.rstrip())
            indent = " " * (HEALTH_W + len(GAP))
            for text, style in cell[1:]:
                out.lines.append(indent + out.style(text, style))
    kinds = Counter(lk.kind.value for lk in article.links if lk.health is Health.NOT_APPLICABLE)
    if kinds:
        parts = ", ".join(
            f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        out.add(f"Not checked: {parts}", "dim")


def render_table(report: Report, *, width: int = 100, color: bool = False) -> str:
    """The report as a terminal table, `width` columns wide; ANSI colours only when `color`."""
    out = _Out(color)
    if not report.articles:
        out.add("No articles to report.")
    for index, article in enumerate(report.articles):
        if index:
            out.add()
        _article(out, article, width)
    counts = report.counts()
    total = sum(counts.values())
    broken = counts[Health.DEAD] + counts[Health.SUSPECT]
    parts = [f"{n} {HEALTH_LABEL[h]}" for h, n in counts.items() if n]
    n_art = len(report.articles)
    out.add()
    out.add(
        f"{n_art} article{'s' if n_art != 1 else ''}, {total} link{'s' if total != 1 else ''}"
        f" ({', '.join(parts) or 'none'}): {broken} broken",
        "red" if broken else "bold",
    )
    return "\n".join(out.lines) + "\n"
