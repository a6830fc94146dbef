"""Markdown report (GitHub tables). Untrusted text is escaped; only http(s) URLs become links."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import quote

from service.model import Health
from service.reports._text import (
    HEALTH_LABEL,
    day,
    drift_text,
    iso,
    short_time,
    summary_line,
    uptime,
)
from service.reports.model import WINDOWS, ArchiveRef, ArticleReport, LinkReport, Report

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_SAFE_URL_CHARS = "/:?#[]@!$&'*+,;=%~-._"


def md_text(text: str) -> str:
    """Text that Markdown shows as written, on one line (safe inside a table cell)."""
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_url(url: str) -> str:
    """A link destination that cannot end the link early: spaces, parentheses, <, > and | are
    percent-encoded (already-encoded %XX stays as is)."""
    return quote(url, safe=_SAFE_URL_CHARS.replace("'", "")).replace("(", "%28").replace(")", "%29")


def is_web_url(url: str | None) -> bool:
    return bool(url) and url is not None and url.lower().startswith(("http://", "https://"))


def md_link(text: str, url: str | None) -> str:
    """[text](url) when url is http(s), else the escaped text alone."""
    label = md_text(text) or md_text(url or "") or "(no text)"
    if url is None or not is_web_url(url):
        return label
    return f"[{label}]({md_url(url)})"


def _archive(ref: ArchiveRef | None) -> str:
    if ref is None:
        return "-"
    return md_link(day(ref.timestamp), ref.url)


def _link_cell(link: LinkReport) -> str:
    parts = [md_link(link.anchor_text or link.href, link.url)]
    if link.url and link.anchor_text:
        parts.append(f"`{link.url.replace('`', '%60')}`")
    if link.moved_to:
        parts.append("moved to " + md_link(link.moved_to, link.moved_to))
    if link.broken and link.explanation:
        parts.append("*" + md_text(link.explanation) + "*")
    parts.extend("warning: " + md_text(w) for w in link.warnings)
    if link.ignored:
        parts.append("(ignored: marked not broken)")
    if link.at_risk:
        parts.append("no archived copy known")
    return "<br>".join(parts)


def _drift(link: LinkReport) -> str:
    """The Drift cell: the verdict (bold when the cited content changed) and its score."""
    text = drift_text(link.drift, link.drift_score)
    return f"**{text}**" if link.drifted else text


def _outcome(link: LinkReport) -> str:
    if link.outcome is None:
        return "-"
    status = f" ({link.http_status})" if link.http_status is not None else ""
    return f"{link.outcome.value.replace('_', chr(92) + '_')}{status}"


def _article(article: ArticleReport) -> list[str]:
    lines = [f"## {md_text(article.name)}", ""]
    facts = [f"`{article.location.replace('`', '%60')}`"]
    if article.published:
        facts.append(f"published {article.published.isoformat()}")
    if article.source_url:
        facts.append("original: " + md_link(article.source_url, article.source_url))
    lines += [" · ".join(facts), "", md_text(summary_line(article)), ""]
    checked = [lk for lk in article.links if lk.health is not Health.NOT_APPLICABLE]
    if checked:
        header = " / ".join(f"{d}d" for d in WINDOWS)
        lines.append(
            f"| Health | Link | Outcome | Since | Uptime {header} | Drift | Archived copy |"
        )
        lines.append("|---|---|---|---|---|---|---|")
        for link in checked:
            label = HEALTH_LABEL[link.health]
            health = f"**{label}**" if link.broken else label
            ups = " / ".join(uptime(link.window(d)) for d in WINDOWS)
            lines.append(
                f"| {health} | {_link_cell(link)} | {_outcome(link)} | {short_time(link.since)} "
                f"| {ups} | {_drift(link)} | {_archive(link.best_archive)} |"
            )
        lines.append("")
    kinds = Counter(lk.kind.value for lk in article.links if lk.health is Health.NOT_APPLICABLE)
    if kinds:
        parts = ", ".join(
            f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        lines += [f"Not checked: {parts}.", ""]
    return lines


def render_markdown(report: Report) -> str:
    counts = report.counts()
    total = sum(counts.values())
    broken = counts[Health.DEAD] + counts[Health.SUSPECT]
    parts = ", ".join(f"{n} {HEALTH_LABEL[h]}" for h, n in counts.items() if n) or "none"
    lines = [
        "# linkwatch report",
        "",
        f"Generated {iso(report.generated_at)}. {len(report.articles)} article(s), "
        f"{total} link(s): "
        f"{parts}; **{broken} broken**.",
        "",
    ]
    for article in report.articles:
        lines += _article(article)
    return "\n".join(lines).rstrip("\n") + "\n"
