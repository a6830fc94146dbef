"""Publication reports: dead share per linked domain, per publication year, per source.

    report = publication_report(session, "domain", now=now)   # or "year", "source"
    text = render_publication(report, "table")                 # table | json | markdown | html

Counting (one rule for every view): a *link* is a distinct normalised URL cited by an active
occurrence of an active article; a link cited by 300 articles counts once per row it falls
in. *checked* links have a verdict (alive, suspect, dead, unknown); the *dead share* is
dead / checked (None while nothing is checked). Per year, a link counts in every year of
the articles citing it (the classic link-rot curve); articles without a date fall in the
"unknown" row. Per domain (registrable domain, offline Public Suffix List), a domain is
*internal* when it is the publication's own: the domain of a citing article's URL, or of
its `source_url`. Domain rows: most dead first; each lists its dead links oldest first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from html import escape
from typing import Any, Literal
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session

from service.articles.discover import registrable_domain
from service.errors import UsageError
from service.model import Health
from service.reports.model import ArticleReport
from service.store.tables import ArticleRow, LinkRow, OccurrenceRow, SourceRow

ARTICLES: sa.Table = ArticleRow.__table__  # type: ignore[attr-defined]
LINKS: sa.Table = LinkRow.__table__  # type: ignore[attr-defined]
OCCURRENCES: sa.Table = OccurrenceRow.__table__  # type: ignore[attr-defined]
SOURCES: sa.Table = SourceRow.__table__  # type: ignore[attr-defined]

By = Literal["domain", "year", "source"]
BY_CHOICES: tuple[str, ...] = ("domain", "year", "source")
SCOPES: tuple[str, ...] = ("all", "external", "internal")
FORMATS: tuple[str, ...] = ("table", "json", "markdown", "html")
DEAD_URLS_PER_DOMAIN = 5
_NUMERIC = frozenset({"links", "checked", "dead", "suspect", "dead share", "articles", "retired"})
_CHECKED = frozenset(
    {Health.ALIVE.value, Health.SUSPECT.value, Health.DEAD.value, Health.UNKNOWN.value}
)


@dataclass
class Counts:
    """Distinct links of one row, by health."""

    links: int = 0
    checked: int = 0
    alive: int = 0
    suspect: int = 0
    dead: int = 0
    unknown: int = 0
    unchecked: int = 0

    @property
    def dead_share(self) -> float | None:
        return self.dead / self.checked if self.checked else None

    def add(self, health: str) -> None:
        self.links += 1
        if health in _CHECKED:
            self.checked += 1
        if health == Health.ALIVE.value:
            self.alive += 1
        elif health == Health.SUSPECT.value:
            self.suspect += 1
        elif health == Health.DEAD.value:
            self.dead += 1
        elif health == Health.UNKNOWN.value:
            self.unknown += 1
        elif health == Health.UNCHECKED.value:
            self.unchecked += 1


@dataclass(frozen=True, slots=True)
class DeadLink:
    url: str
    cited: date | None  # the link's citation date (earliest citing article)


@dataclass
class DomainRow:
    domain: str
    internal: bool
    counts: Counts = field(default_factory=Counts)
    oldest_citation: date | None = None
    dead_links: list[DeadLink] = field(default_factory=list)  # oldest first


@dataclass
class YearRow:
    year: int | None  # None: articles without a publication date
    articles: int = 0
    counts: Counts = field(default_factory=Counts)


@dataclass
class SourceReportRow:
    source_id: int | None  # None: articles added by hand
    kind: str
    location: str
    articles: int = 0
    retired_articles: int = 0
    counts: Counts = field(default_factory=Counts)
    last_scan_at: datetime | None = None


@dataclass(frozen=True)
class PublicationReport:
    by: str
    generated_at: datetime
    scope: str
    source_id: int | None
    rows: tuple[DomainRow, ...] | tuple[YearRow, ...] | tuple[SourceReportRow, ...]
    total: Counts


# -- building ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cite:
    article_id: int
    home: str | None  # the citing article's own registrable domain
    published: date | None
    source_id: int | None
    link_id: int
    url: str
    host: str
    health: str
    cited: date | None


def _home(location: str, source_url: str | None) -> str | None:
    for candidate in (location, source_url):
        if candidate and candidate.lower().startswith(("http://", "https://")):
            try:
                host = urlsplit(candidate).hostname
            except ValueError:
                continue
            if host:
                return registrable_domain(host)
    return None


def _cites(session: Session, source_id: int | None) -> Iterable[_Cite]:
    a, o, lk = ARTICLES.c, OCCURRENCES.c, LINKS.c
    query = (
        sa.select(
            a.id,
            a.location,
            a.source_url,
            a.published,
            a.source_id,
            lk.id.label("link_id"),
            lk.url,
            lk.host,
            lk.health,
            lk.citation_date,
        )
        .select_from(OCCURRENCES)
        .join(ARTICLES, a.id == o.article_id)
        .join(LINKS, lk.id == o.link_id)
        .where(o.active.is_(True), a.active.is_(True), lk.ignored.is_(False))
        .distinct()
    )
    if source_id is not None:
        query = query.where(a.source_id == source_id)
    homes: dict[int, str | None] = {}
    for r in session.execute(query).yield_per(5000):
        home = homes.get(r.id)
        if r.id not in homes:
            home = homes[r.id] = _home(r.location, r.source_url)
        yield _Cite(
            r.id,
            home,
            r.published,
            r.source_id,
            r.link_id,
            r.url,
            r.host,
            r.health,
            r.citation_date,
        )


def _in_scope(domain: str, scope: str, homes: set[str]) -> bool:
    if scope == "all":
        return True
    internal = domain in homes
    return internal if scope == "internal" else not internal


def publication_report(
    session: Session,
    by: str,
    *,
    now: datetime,
    source_id: int | None = None,
    scope: str = "all",
) -> PublicationReport:
    """Build the report `by` domain, year or source (see the module docstring)."""
    if by not in BY_CHOICES:
        raise UsageError(f"--by: unknown view {by!r}; use one of {', '.join(BY_CHOICES)}")
    if scope not in SCOPES:
        raise UsageError(f"--scope: unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
    cites = list(_cites(session, source_id))
    homes = {c.home for c in cites if c.home}
    domain_of: dict[str, str] = {}
    kept: list[tuple[_Cite, str]] = []
    for cite in cites:
        domain = domain_of.get(cite.host)
        if domain is None:
            domain = domain_of[cite.host] = registrable_domain(cite.host)
        if _in_scope(domain, scope, homes):
            kept.append((cite, domain))
    total = Counts()
    seen: set[int] = set()
    for cite, _ in kept:
        if cite.link_id not in seen:
            seen.add(cite.link_id)
            total.add(cite.health)
    rows: tuple[Any, ...]
    if by == "domain":
        rows = tuple(_by_domain(kept, homes))
    elif by == "year":
        rows = tuple(_by_year(session, kept, source_id))
    else:
        rows = tuple(_by_source(session, kept, source_id))
    return PublicationReport(by, now, scope, source_id, rows, total)


def _by_domain(kept: Sequence[tuple[_Cite, str]], homes: set[str]) -> list[DomainRow]:
    rows: dict[str, DomainRow] = {}
    seen: set[int] = set()
    for cite, domain in kept:
        if cite.link_id in seen:
            continue
        seen.add(cite.link_id)
        row = rows.get(domain)
        if row is None:
            row = rows[domain] = DomainRow(domain, domain in homes)
        row.counts.add(cite.health)
        if cite.cited is not None and (
            row.oldest_citation is None or cite.cited < row.oldest_citation
        ):
            row.oldest_citation = cite.cited
        if cite.health == Health.DEAD.value:
            row.dead_links.append(DeadLink(cite.url, cite.cited))
    for row in rows.values():
        row.dead_links.sort(key=lambda d: (d.cited or date.max, d.url))
    return sorted(
        rows.values(),
        key=lambda r: (
            -r.counts.dead,
            -(r.counts.dead_share or 0.0),
            r.oldest_citation or date.max,
            r.domain,
        ),
    )


def _by_year(
    session: Session, kept: Sequence[tuple[_Cite, str]], source_id: int | None
) -> list[YearRow]:
    rows: dict[int | None, YearRow] = {}
    a = ARTICLES.c
    query = sa.select(a.published).where(a.active.is_(True))
    if source_id is not None:
        query = query.where(a.source_id == source_id)
    for (published,) in session.execute(query):
        year = published.year if published else None
        rows.setdefault(year, YearRow(year)).articles += 1
    seen: set[tuple[int | None, int]] = set()
    for cite, _ in kept:
        year = cite.published.year if cite.published else None
        if (year, cite.link_id) in seen:
            continue
        seen.add((year, cite.link_id))
        rows.setdefault(year, YearRow(year)).counts.add(cite.health)
    return sorted(rows.values(), key=lambda r: (r.year is None, r.year or 0))


def _by_source(
    session: Session, kept: Sequence[tuple[_Cite, str]], source_id: int | None
) -> list[SourceReportRow]:
    rows: dict[int | None, SourceReportRow] = {}
    s = SOURCES.c
    query = sa.select(s.id, s.kind, s.location, s.last_scan_at)
    if source_id is not None:
        query = query.where(s.id == source_id)
    for sid, kind, location, scanned in session.execute(query.order_by(s.id)):
        last_scan = datetime.fromisoformat(scanned) if isinstance(scanned, str) else scanned
        rows[sid] = SourceReportRow(sid, kind, location, last_scan_at=last_scan)
    a = ARTICLES.c
    counts = sa.select(a.source_id, a.active, sa.func.count()).group_by(a.source_id, a.active)
    for sid, active, n in session.execute(counts):
        if source_id is not None and sid != source_id:
            continue
        row = rows.get(sid)
        if row is None:
            if sid is not None:
                continue
            row = rows[None] = SourceReportRow(None, "manual", "(added by hand)")
        if active:
            row.articles += int(n)
        else:
            row.retired_articles += int(n)
    seen: set[tuple[int | None, int]] = set()
    for cite, _ in kept:
        key = (cite.source_id, cite.link_id)
        if key in seen or cite.source_id not in rows:
            continue
        seen.add(key)
        rows[cite.source_id].counts.add(cite.health)
    return sorted(rows.values(), key=lambda r: (r.source_id is None, r.source_id or 0))


def years_of_report(articles: Iterable[ArticleReport]) -> list[YearRow]:
    """The by-year rows of the articles of a link report (`Report.articles`),
    counted by the same rule as `publication_report(..., "year")`: a link once per year of
    the articles citing it, ignored links left out. Pure: no query."""
    rows: dict[int | None, YearRow] = {}
    seen: set[tuple[int | None, int]] = set()
    for article in articles:
        year = article.published.year if article.published else None
        row = rows.setdefault(year, YearRow(year))
        row.articles += 1
        for link in article.links:
            if link.link_id is None or link.ignored or (year, link.link_id) in seen:
                continue
            seen.add((year, link.link_id))
            row.counts.add(link.health.value)
    return sorted(rows.values(), key=lambda r: (r.year is None, r.year or 0))


# -- rendering ---------------------------------------------------------------------------------


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def _columns(report: PublicationReport) -> tuple[list[str], list[list[str]]]:
    """Header and cells shared by the table, Markdown and HTML renderings."""
    counts_head = ["links", "checked", "dead", "suspect", "dead share"]

    def counts(c: Counts) -> list[str]:
        return [str(c.links), str(c.checked), str(c.dead), str(c.suspect), _pct(c.dead_share)]

    cells: list[list[str]] = []
    if report.by == "domain":
        head = ["domain", "site", *counts_head, "oldest cited", "oldest dead links"]
        for r in report.rows:
            assert isinstance(r, DomainRow)
            dead = ", ".join(d.url for d in r.dead_links[:DEAD_URLS_PER_DOMAIN])
            more = len(r.dead_links) - DEAD_URLS_PER_DOMAIN
            if more > 0:
                dead += f" (+{more} more)"
            cited = r.oldest_citation.isoformat() if r.oldest_citation else "-"
            site = "internal" if r.internal else "external"
            cells.append([r.domain, site, *counts(r.counts), cited, dead])
    elif report.by == "year":
        head = ["year", "articles", *counts_head]
        for r in report.rows:
            assert isinstance(r, YearRow)
            year = str(r.year) if r.year is not None else "unknown"
            cells.append([year, str(r.articles), *counts(r.counts)])
    else:
        head = ["source", "kind", "location", "articles", "retired", *counts_head, "last scan"]
        for r in report.rows:
            assert isinstance(r, SourceReportRow)
            scan = r.last_scan_at.strftime("%Y-%m-%d %H:%M") if r.last_scan_at else "-"
            sid = str(r.source_id) if r.source_id is not None else "-"
            cells.append(
                [
                    sid,
                    r.kind,
                    r.location,
                    str(r.articles),
                    str(r.retired_articles),
                    *counts(r.counts),
                    scan,
                ]
            )
    return head, cells


def _title(report: PublicationReport) -> str:
    what = {"domain": "linked domain", "year": "publication year", "source": "source"}[report.by]
    scope = "" if report.scope == "all" else f" ({report.scope} links)"
    return f"Link rot by {what}{scope}"


def _summary(report: PublicationReport) -> str:
    t = report.total
    return (
        f"{t.links} links, {t.checked} checked, {t.dead} dead "
        f"({_pct(t.dead_share)} of checked), {t.suspect} suspect, {t.unchecked} unchecked"
    )


def render_table(report: PublicationReport) -> str:
    head, cells = _columns(report)
    widths = [
        max(len(h), *(len(row[i]) for row in cells)) if cells else len(h)
        for i, h in enumerate(head)
    ]
    numeric = {i for i, h in enumerate(head) if h in _NUMERIC}

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if i in numeric else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [_title(report), _summary(report), "", line(head)]
    out.extend(line(row) for row in cells)
    if not cells:
        out.append("(nothing to report yet)")
    return "\n".join(out) + "\n"


def render_markdown(report: PublicationReport) -> str:
    head, cells = _columns(report)

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    out = [f"# {_title(report)}", "", _summary(report), ""]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join("---:" if h in _NUMERIC else "---" for h in head) + "|")
    out.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in cells)
    return "\n".join(out) + "\n"


def year_chart_svg(rows: Sequence[YearRow], *, width: int = 640, height: int = 220) -> str:
    """An inline SVG bar chart of the dead share per publication year (dated years only).

    Self-contained (no script, no external resource): for the HTML report and the dashboard.
    """
    dated = [r for r in rows if r.year is not None]
    if not dated:
        return '<svg xmlns="http://www.w3.org/2000/svg" role="img" width="0" height="0"></svg>'
    top, bottom, left = 20, 30, 40
    plot_h = height - top - bottom
    step = (width - left) / len(dated)
    bar_w = max(2.0, step * 0.7)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="rot-chart" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        "<title>Dead share of links by the articles' publication year</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" '
        'stroke="#8c959f"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="10">100%</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="10">0%</text>',
    ]
    for index, row in enumerate(dated):
        share = row.counts.dead_share or 0.0
        bar_h = round(plot_h * share, 1)
        x = round(left + index * step + (step - bar_w) / 2, 1)
        y = round(top + plot_h - bar_h, 1)
        c = row.counts
        label = f"{row.year}: {_pct(c.dead_share)} dead ({c.dead}/{c.checked} checked links)"
        parts.append(
            f'<rect class="bar" data-year="{row.year}" data-share="{share:.4f}" x="{x}" y="{y}" '
            f'width="{round(bar_w, 1)}" height="{bar_h}" fill="#cf222e">'
            f"<title>{escape(label)}</title></rect>"
        )
        parts.append(
            f'<text x="{round(x + bar_w / 2, 1)}" y="{height - bottom + 14}" text-anchor="middle" '
            f'font-size="10">{row.year}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: PublicationReport) -> str:
    head, cells = _columns(report)
    body = [f"<h1>{escape(_title(report))}</h1>", f"<p>{escape(_summary(report))}</p>"]
    if report.by == "year":
        rows = [r for r in report.rows if isinstance(r, YearRow)]
        body.append(
            f"<figure>{year_chart_svg(rows)}"
            "<figcaption>Dead share per publication year</figcaption></figure>"
        )
    table = ["<table><thead><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in cells:
        table.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    table.append("</tbody></table>")
    body.append("".join(table))
    stamp = report.generated_at.isoformat(timespec="seconds")
    style = (
        "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1f2328}"
        "table{border-collapse:collapse}td,th{border-bottom:1px solid #d0d7de;padding:.3rem .6rem;"
        "text-align:left;vertical-align:top}figure{margin:1rem 0}"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(_title(report))}</title><style>{style}</style></head><body>"
        + "".join(body)
        + f"<p><small>Generated {escape(stamp)}</small></p>"
        + "</body></html>\n"
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _counts_json(c: Counts) -> dict[str, Any]:
    return {**asdict(c), "dead_share": c.dead_share}


def columns(report: PublicationReport) -> tuple[list[str], list[list[str]]]:
    """The header and the text cells of the report's table (as in table/Markdown/HTML)."""
    return _columns(report)


def title(report: PublicationReport) -> str:
    return _title(report)


def summary(report: PublicationReport) -> str:
    return _summary(report)


def publication_data(report: PublicationReport) -> dict[str, Any]:
    """The report as JSON-ready data (what `render_json` prints and /api/publication serves)."""
    rows: list[dict[str, Any]] = []
    for r in report.rows:
        item = asdict(r)
        item["counts"] = _counts_json(r.counts)
        rows.append(item)
    data = {
        "by": report.by,
        "scope": report.scope,
        "source_id": report.source_id,
        "generated_at": report.generated_at,
        "total": _counts_json(report.total),
        "rows": rows,
    }
    result: dict[str, Any] = _jsonable(data)
    return result


def render_json(report: PublicationReport) -> str:
    return json.dumps(publication_data(report), indent=2, ensure_ascii=False) + "\n"


def render_publication(report: PublicationReport, fmt: str) -> str:
    if fmt == "table":
        return render_table(report)
    if fmt == "json":
        return render_json(report)
    if fmt in ("markdown", "md"):
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    raise UsageError(f"--format: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
