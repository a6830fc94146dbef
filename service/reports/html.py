"""HTML report: one self-contained page (inline CSS and SVG only: opens offline, safe to mail).

Readable on a phone (one card per link, no wide tables). Every piece of untrusted text (titles,
anchor texts, URLs) goes through `esc`; only http(s) URLs ever become an `href`, so a
`javascript:` link stays inert text.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from service.model import Health, Signal
from service.reports._text import (
    HEALTH_LABEL,
    day,
    drift_sentence,
    iso,
    percent,
    short_time,
    summary_line,
    uptime,
)
from service.reports.model import (
    HEALTH_ORDER,
    WINDOWS,
    ArchiveRef,
    ArticleReport,
    DayCell,
    LinkReport,
    Report,
)
from service.reports.publication import YearRow, year_chart_svg, years_of_report

SIGNAL_COLOUR: dict[Signal, str] = {
    Signal.ALIVE: "#2da44e",
    Signal.TRANSIENT: "#d4a72c",
    Signal.UNKNOWN: "#8250df",
    Signal.DEAD: "#cf222e",
    Signal.NONE: "#8c959f",
}
NO_CHECK_COLOUR = "#e6e9ed"
DRIFT_COLOUR: dict[str, str] = {"drifted": "#bf8700", "replaced": "#953800"}
HEALTH_COLOUR: dict[Health, str] = {
    Health.DEAD: "#cf222e",
    Health.SUSPECT: "#d4a72c",
    Health.UNKNOWN: "#8250df",
    Health.UNCHECKED: "#8c959f",
    Health.ALIVE: "#2da44e",
    Health.NOT_APPLICABLE: "#d0d7de",
}

CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1f2328;background:#f6f8fa}
main{max-width:960px;margin:0 auto;padding:12px}
h1{font-size:1.4em;margin:.4em 0}
h2{font-size:1.15em;margin:0 0 .3em;overflow-wrap:anywhere}
a{color:#0969da}
.meta,.muted{color:#59636e;font-size:.9em;overflow-wrap:anywhere}
.article{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px;margin:14px 0}
.chips{display:flex;flex-wrap:wrap;gap:6px;margin:.5em 0}
.chip{border-radius:12px;padding:1px 9px;font-size:.85em;color:#fff;white-space:nowrap}
.chip.light{color:#1f2328}
.score{font-weight:600}
svg.bar{display:block;width:100%;height:10px;margin:.4em 0}
.link{border-top:1px solid #eaeef2;padding:10px 0}
.link .head{display:flex;flex-wrap:wrap;gap:6px;align-items:baseline}
.anchor{font-weight:600;overflow-wrap:anywhere}
.url{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85em;overflow-wrap:anywhere;color:#59636e}
.explain{font-style:italic;margin:.2em 0}
.warning{color:#8a5a00;margin:.2em 0}
.archive{margin:.2em 0}
.facts{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.85em;color:#59636e}
.strip{display:block;width:100%;max-width:540px;height:18px;margin:.35em 0}
.legend{font-size:.8em;color:#59636e;display:flex;flex-wrap:wrap;gap:10px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:3px;
vertical-align:-1px}
.rot-chart{display:block;max-width:100%;height:auto}
.scroll{overflow-x:auto}
.years{border-collapse:collapse;width:100%;font-size:.9em;margin:.5em 0}
.years th,.years td{text-align:right;padding:3px 6px;border-bottom:1px solid #eaeef2}
.years th:first-child,.years td:first-child{text-align:left}
details{margin-top:8px}
summary{cursor:pointer;color:#59636e}
@media (max-width:480px){body{font-size:14px}main{padding:6px}.article{padding:9px}}
"""


def esc(text: str | None) -> str:
    """HTML-escape text (quotes too, so it is safe inside attributes)."""
    return escape(text or "", quote=True)


def is_web_url(url: str | None) -> bool:
    return url is not None and url.strip().lower().startswith(("http://", "https://"))


def link_html(text: str, url: str | None, cls: str = "") -> str:
    """<a href> for an http(s) URL, else the escaped text in a span (no other URL is clickable)."""
    attr = f' class="{cls}"' if cls else ""
    if url is not None and is_web_url(url):
        return (
            f'<a{attr} href="{esc(url.strip())}" rel="noopener noreferrer nofollow">{esc(text)}</a>'
        )
    return f"<span{attr}>{esc(text)}</span>"


def _cell_colour(cell: DayCell) -> str:
    if cell.worst is None:
        return NO_CHECK_COLOUR
    return SIGNAL_COLOUR[cell.worst.signal]


class _StripDrawer:
    """Draws the availability strips of one report (inline SVG).

    A report of 10,000 links has 900,000 day cells, but few distinct ones: links with the same
    history share one tuple of cells, and strips share their cells (history.Strips). So a tuple
    already drawn is reused, and a cell's <rect> is built once per position, both looked up by
    identity. The drawer keeps every object it looked up, so no id() is reused while it lives.
    """

    def __init__(self, *, cell: int = 5, gap: int = 1, height: int = 18) -> None:
        self.cell = cell
        self.gap = gap
        self.height = height
        self._strips: dict[int, tuple[tuple[DayCell, ...], str]] = {}
        self._rects: dict[tuple[int, int], tuple[DayCell, str]] = {}

    def svg(self, days: tuple[DayCell, ...] | list[DayCell]) -> str:
        if not days:
            return ""
        if not isinstance(days, tuple):
            return self._draw(days)
        drawn = self._strips.get(id(days))
        if drawn is not None and drawn[0] is days:
            return drawn[1]
        text = self._draw(days)
        self._strips[id(days)] = (days, text)
        return text

    def _draw(self, days: tuple[DayCell, ...] | list[DayCell]) -> str:
        width = len(days) * (self.cell + self.gap) - self.gap
        checked = [c for c in days if c.worst is not None]
        bad = sum(1 for c in checked if c.worst is not None and c.worst.signal is Signal.DEAD)
        label = f"{len(days)} days: {len(checked)} with checks, {bad} with a dead outcome"
        return (
            f'<svg class="strip" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {width} {self.height}" '
            f'preserveAspectRatio="none" role="img" aria-label="{esc(label)}">'
            + "".join([self._rect(i, c) for i, c in enumerate(days)])
            + "</svg>"
        )

    def _rect(self, i: int, c: DayCell) -> str:
        key = (i, id(c))
        drawn = self._rects.get(key)
        if drawn is not None and drawn[0] is c:
            return drawn[1]
        what = (
            f"{c.worst.value}, {c.checks} check{'s' if c.checks != 1 else ''}"
            if c.worst
            else "no check"
        )
        text = (
            f'<rect x="{i * (self.cell + self.gap)}" y="0" width="{self.cell}" '
            f'height="{self.height}" rx="1" fill="{_cell_colour(c)}">'
            f"<title>{c.day.isoformat()}: {esc(what)}</title></rect>"
        )
        self._rects[key] = (c, text)
        return text


def strip_svg(
    days: tuple[DayCell, ...] | list[DayCell], *, cell: int = 5, gap: int = 1, height: int = 18
) -> str:
    """The availability strip: one cell per day, coloured by its worst outcome (inline SVG)."""
    return _StripDrawer(cell=cell, gap=gap, height=height).svg(days)


def health_bar_svg(counts: dict[Health, int]) -> str:
    """A one-line stacked bar of the article's health counts (inline SVG)."""
    total = sum(counts.values())
    if not total:
        return ""
    x = 0.0
    rects = []
    for health in HEALTH_ORDER:
        n = counts.get(health, 0)
        if not n:
            continue
        w = 1000.0 * n / total
        rects.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="10" fill="{HEALTH_COLOUR[health]}">'
            f"<title>{n} {HEALTH_LABEL[health]}</title></rect>"
        )
        x += w
    return (
        '<svg class="bar" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 10" '
        'preserveAspectRatio="none" role="img" aria-label="health of the links">'
        + "".join(rects)
        + "</svg>"
    )


def health_chip(health: Health, text: str | None = None) -> str:
    light = " light" if health in (Health.NOT_APPLICABLE,) else ""
    return (
        f'<span class="chip{light}" style="background:{HEALTH_COLOUR[health]}">'
        f"{esc(text or HEALTH_LABEL[health])}</span>"
    )


def drift_chip(link: LinkReport) -> str:
    """A chip for a link whose content drifted or was replaced since cited ('' otherwise)."""
    if not link.drifted or link.drift is None:
        return ""
    score = f" {link.drift_score:.2f}" if link.drift_score is not None else ""
    return (
        f'<span class="chip drift" style="background:{DRIFT_COLOUR[link.drift]}" '
        f'title="drift score (1 - cosine similarity with the citation capture)">'
        f"content {esc(link.drift)}{esc(score)}</span>"
    )


def drift_fact(link: LinkReport) -> str:
    """'Content still as cited (drift score 0.03), compared 2024-05-01 12:00' ('' if never)."""
    if link.drift is None:
        return ""
    text = drift_sentence(link.drift, link.drift_score)
    return f"{text[:1].upper()}{text[1:]}, compared {short_time(link.drift_checked_at)}"


def _archive_line(label: str, ref: ArchiveRef | None) -> str:
    if ref is None:
        return ""
    anchor = link_html(f"archived copy of {day(ref.timestamp)}", ref.url, "archive-link")
    return f'<div class="archive">{esc(label)}: {anchor}</div>'


def _outcome_text(link: LinkReport) -> str:
    if link.outcome is None:
        return "not checked yet"
    status = f" (HTTP {link.http_status})" if link.http_status is not None else ""
    return f"{link.outcome.value}{status}"


def link_card(link: LinkReport) -> str:
    """One link occurrence as a card (also used by the dashboard)."""
    parts: list[str] = []
    _link_card(link, _StripDrawer(), parts)
    return "".join(parts)


def _link_card(link: LinkReport, strips: _StripDrawer, parts: list[str]) -> None:
    """Append the pieces of one link's card to `parts` (joined once, with the whole page)."""
    drift_attr = f' data-drift="{esc(link.drift)}"' if link.drift else ""
    parts.append(
        f'<div class="link" id="occ-{link.occurrence_id or link.position}" '
        f'data-health="{link.health.value}"{drift_attr}>'
    )
    parts.append('<div class="head">')
    parts.append(health_chip(link.health))
    parts.append(drift_chip(link))
    parts.append(link_html(link.anchor_text or link.href or "(no text)", link.url, "anchor"))
    if link.ignored:
        parts.append('<span class="muted">(ignored: marked not broken)</span>')
    parts.append("</div>")
    parts.append(f'<div class="url">{esc(link.url or link.href)}</div>')
    if link.broken and link.explanation:
        parts.append(f'<div class="explain">{esc(link.explanation)}</div>')
    parts.extend(f'<div class="warning">Warning: {esc(w)}</div>' for w in link.warnings)
    if link.moved_to:
        parts.append(
            f'<div class="archive">Moved to {link_html(link.moved_to, link.moved_to)}</div>'
        )
    cited_label = "As cited (what the author saw)" if link.drifted else "Citation-date copy"
    parts.append(_archive_line(cited_label, link.archive))
    if link.archive_latest is not None and link.archive_latest != link.archive:
        parts.append(_archive_line("Newest copy", link.archive_latest))
    if link.at_risk:
        parts.append(
            '<div class="muted">No archived copy known: this page would be lost if it broke.</div>'
        )
    parts.append(strips.svg(link.days))
    facts = [
        f"Last check: {esc(_outcome_text(link))}, {esc(short_time(link.checked_at))}",
        f"{esc(HEALTH_LABEL[link.health])} since {esc(short_time(link.since))}",
        "Uptime " + ", ".join(f"{d}d {esc(uptime(link.window(d)))}" for d in WINDOWS),
        f"line {link.line}",
    ]
    if link.drift is not None:
        facts.insert(2, esc(drift_fact(link)))
    parts.append('<div class="facts">' + "".join(f"<span>{f}</span>" for f in facts) + "</div>")
    parts.append("</div>")


def article_summary(article: ArticleReport) -> str:
    """Heading, facts, health chips, score and the stacked bar of one article."""
    parts = [f"<h2>{esc(article.name)}</h2>"]
    meta = [esc(article.location)]
    if article.published:
        meta.append(f"published {article.published.isoformat()}")
    if article.source_url:
        meta.append("original: " + link_html(article.source_url, article.source_url))
    parts.append(f'<div class="meta">{" · ".join(meta)}</div>')
    chips = [health_chip(h, f"{n} {HEALTH_LABEL[h]}") for h, n in article.counts.items() if n]
    score = percent(article.score) if article.score is not None else "n/a"
    chips.append(f'<span class="score">health score {esc(score)}</span>')
    parts.append('<div class="chips">' + "".join(chips) + "</div>")
    parts.append(health_bar_svg(article.counts))
    parts.append(f'<div class="muted summary">{esc(summary_line(article))}</div>')
    return "".join(parts)


def _article(article: ArticleReport, strips: _StripDrawer, parts: list[str]) -> None:
    """Append the pieces of one article's section to `parts`."""
    parts.append(f'<section class="article" id="article-{article.id or 0}">')
    parts.append(article_summary(article))
    for lk in article.links:
        if lk.health is not Health.NOT_APPLICABLE:
            _link_card(lk, strips, parts)
    rest = [lk for lk in article.links if lk.health is Health.NOT_APPLICABLE]
    if rest:
        kinds = Counter(lk.kind.value for lk in rest)
        label = ", ".join(
            f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        parts.append(f"<details><summary>Not checked: {esc(label)}</summary>")
        parts.extend(
            f'<div class="link"><span class="anchor">{esc(lk.anchor_text or "(no text)")}</span> '
            f'<span class="url">{esc(lk.href)}</span> '
            f'<span class="muted">{esc(lk.kind.value)}, line {lk.line}</span></div>'
            for lk in rest
        )
        parts.append("</details>")
    parts.append("</section>")


def legend() -> str:
    items = [
        (SIGNAL_COLOUR[Signal.ALIVE], "alive"),
        (SIGNAL_COLOUR[Signal.TRANSIENT], "transient failure"),
        (SIGNAL_COLOUR[Signal.UNKNOWN], "blocked / unverifiable"),
        (SIGNAL_COLOUR[Signal.DEAD], "dead"),
        (SIGNAL_COLOUR[Signal.NONE], "monitor offline"),
        (NO_CHECK_COLOUR, "no check"),
    ]
    return (
        '<div class="legend">Last 90 days, worst outcome per day: '
        + "".join(f'<span><i style="background:{c}"></i>{esc(t)}</span>' for c, t in items)
        + "</div>"
    )


def years_section(rows: list[YearRow]) -> str:
    """Link rot by the articles' publication year: the dead-share chart and its table ('' when
    no article has a publication date)."""
    if not any(r.year is not None for r in rows):
        return ""
    head = ("Year", "Articles", "Links", "Checked", "Dead", "Dead share")
    body = []
    for r in rows:
        c = r.counts
        share = percent(100.0 * c.dead_share) if c.dead_share is not None else "-"
        year = str(r.year) if r.year is not None else "unknown"
        cells = (year, r.articles, c.links, c.checked, c.dead, share)
        body.append(
            f'<tr data-year="{esc(cells[0])}">'
            + "".join(f"<td>{esc(str(v))}</td>" for v in cells)
            + "</tr>"
        )
    return (
        '<section class="article" id="by-year"><h2>Link rot by publication year</h2>'
        '<div class="muted">Share of the checked links that are dead, by the year the citing '
        "articles were published (a link counts once per year).</div>"
        f"{year_chart_svg(rows)}"
        '<div class="scroll"><table class="years"><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div></section>"
    )


def render_html(report: Report, *, title: str = "linkwatch report", by_year: bool = True) -> str:
    """The whole report as one self-contained HTML document.

    `by_year`: add the link-rot-by-publication-year section (chart and table) when some
    article has a publication date; leave it out for a filtered report, whose shares would
    only describe the links kept."""
    counts = report.counts()
    broken = counts[Health.DEAD] + counts[Health.SUSPECT]
    total = sum(counts.values())
    parts = [
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        "<body><main>",
        f"<h1>{esc(title)}</h1>",
        f'<div class="meta">Generated {esc(iso(report.generated_at))} · '
        f"{len(report.articles)} article(s), "
        f"{total} link(s), <strong>{broken} broken</strong></div>",
        legend(),
    ]
    if not report.articles:
        parts.append("<p>No articles to report.</p>")
    if by_year:
        parts.append(years_section(years_of_report(report.articles)))
    strips = _StripDrawer()
    for article in report.articles:
        _article(article, strips, parts)
    parts.append("</main></body></html>\n")
    # One join for the whole page (it is 100 MB for 10,000 links with their strips).
    return "".join(parts)


__all__ = [
    "CSS",
    "article_summary",
    "drift_chip",
    "drift_fact",
    "esc",
    "health_bar_svg",
    "link_card",
    "link_html",
    "render_html",
    "strip_svg",
    "years_section",
]
