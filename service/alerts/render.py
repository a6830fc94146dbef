"""The words of an alert: plain text and HTML bodies from a Digest. Pure, no I/O.

Anchor texts, titles and URLs come from articles and servers: untrusted, so every value is
escaped in HTML and only http(s) URLs become hyperlinks.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from service.alerts.digest import ArticleGroup, Digest, DigestEntry
from service.alerts.events import EVENT_ORDER, Event
from service.alerts.message import LinkEvent, Message, MonitorEvent, Severity

LABELS: dict[Event, str] = {
    Event.BROKEN: "broken",
    Event.RECOVERED: "recovered",
    Event.MOVED: "moved",
    Event.REMINDER: "still broken",
    Event.DRIFTED: "drifted",
    Event.MONITOR_OFFLINE: "monitor offline",
    Event.MONITOR_ONLINE: "monitor back online",
    Event.TEST: "test",
}


def fmt_time(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at is not None else "unknown time"


def fmt_date(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d") if at is not None else "unknown date"


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days"


# -- facts of one link, as lines (shared by text and HTML) ------------------------------------


def seen_line(link: LinkEvent) -> str:
    if link.outcome is None:
        return "Seen: no check details recorded."
    parts = [link.outcome.value]
    if link.http_status is not None:
        parts.append(f"HTTP {link.http_status}")
    return f"Seen: {', '.join(parts)}. {link.outcome.explanation}"


def history_line(link: LinkEvent) -> str:
    total = f" ({link.total_checks} checks in total)" if link.total_checks is not None else ""
    if link.event == Event.BROKEN:
        failed = f"{link.failed_checks} failed checks in a row" if link.failed_checks else "failing"
        start = fmt_time(link.since or link.at)
        return f"Broken: {failed} since {start}, confirmed {fmt_time(link.at)}{total}."
    if link.event == Event.RECOVERED:
        was = f" (was dead since {fmt_time(link.since)})" if link.since else ""
        return f"Answers again since {fmt_time(link.at)}{was}{total}."
    if link.event == Event.REMINDER:
        since = link.since or link.at
        lasted = _duration((link.at - since).total_seconds())
        return f"Still dead since {fmt_time(since)} ({lasted}){total}."
    if link.event == Event.MOVED:
        return f"Permanent redirect seen {fmt_time(link.at)}{total}."
    return f"Seen {fmt_time(link.at)}{total}."


def drift_lines(link: LinkEvent) -> list[str]:
    """What changed on a drifted page, measured against the capture the author saw."""
    drift = link.drift
    if drift is None:
        return ["Content changed since cited."]
    score = f"drift score {drift.score:.2f}" if drift.score is not None else "no score"
    if drift.verdict == "replaced":
        head = f"Content replaced since cited: the page is now about something else ({score}"
    else:
        head = f"Content drifted since cited: the page no longer says what was cited ({score}"
    head += ", 0 = unchanged, 1 = unrelated)."
    facts = []
    if drift.containment is not None:
        facts.append(f"{drift.containment * 100:.0f}% of the cited passages are still on the page")
    if drift.word_count_capture is not None and drift.word_count_live is not None:
        facts.append(f"{drift.word_count_capture} words then, {drift.word_count_live} now")
    lines = [head]
    if facts:
        lines.append("; ".join(facts) + ".")
    before = (
        "it was the same at the previous comparison"
        if drift.previous == "same"
        else "first comparison"
    )
    lines.append(f"Compared {fmt_time(link.at)} ({before}); the link itself still answers.")
    return lines


def archive_line(link: LinkEvent) -> str | None:
    if link.event == Event.DRIFTED:
        if link.archive is None:
            return "No capture of the cited page is known."
        return (
            f"What the author saw: {link.archive.url} "
            f"(captured {fmt_date(link.archive.captured_at)})"
        )
    if link.event not in (Event.BROKEN, Event.REMINDER):
        return None
    if link.archive is None:
        return "No archived copy: consider saving it."
    return f"Archived copy: {link.archive.url} (captured {fmt_date(link.archive.captured_at)})"


def fix_line(link: LinkEvent) -> str:
    if link.event in (Event.BROKEN, Event.REMINDER):
        if link.archive is not None:
            return f"Fix: replace the link with the archived copy {link.archive.url}"
        return "Fix: save the page in the archive if it still exists anywhere, or remove the link."
    if link.event == Event.MOVED and link.final_url:
        return f"Fix: update the link to the new address {link.final_url}"
    if link.event == Event.DRIFTED:
        if link.archive is not None:
            return (
                f"Fix: point the link at the capture the author saw {link.archive.url} "
                "(linkwatch fix --drifted archive), or check that the page still supports "
                "the citation."
            )
        return "Fix: check by hand that the page still supports the citation."
    if link.event == Event.RECOVERED:
        return (
            "Fix: nothing to do; if you already replaced it with an archived copy, "
            "you may switch back."
        )
    return "Fix: check the page by hand."


def _final_url_line(link: LinkEvent) -> str | None:
    if link.final_url and link.final_url != link.url and link.event != Event.MOVED:
        return f"Final URL: {link.final_url}"
    if link.event == Event.MOVED and link.final_url:
        return f"Moved to: {link.final_url}"
    return None


def _anchor(entry: DigestEntry) -> str:
    texts = [t.strip() for t in entry.anchor_texts if t.strip()]
    return " / ".join(dict.fromkeys(texts)) if texts else "(no anchor text)"


def _detail_lines(link: LinkEvent) -> list[str]:
    if link.event == Event.DRIFTED:
        lines = drift_lines(link)
        archive = archive_line(link)
        if archive:
            lines.append(archive)
        lines.append(fix_line(link))
        return lines
    lines = [seen_line(link)]
    final = _final_url_line(link)
    if final:
        lines.append(final)
    lines.append(history_line(link))
    archive = archive_line(link)
    if archive:
        lines.append(archive)
    lines.append(fix_line(link))
    return lines


# -- summary ----------------------------------------------------------------------------------


def summary(digest: Digest) -> str:
    parts = [
        f"{n} {LABELS[e]}"
        for e, n in sorted(digest.counts.items(), key=lambda kv: EVENT_ORDER[kv[0]])
    ]
    parts += [LABELS[m.event] for m in digest.monitor]
    return ", ".join(parts) if parts else "nothing new"


def severity(digest: Digest) -> Severity:
    events = set(digest.counts) | {m.event for m in digest.monitor}
    if Event.BROKEN in events or Event.MONITOR_OFFLINE in events:
        return "failure"
    if Event.REMINDER in events or Event.MOVED in events or Event.DRIFTED in events:
        return "warning"
    if events and events <= {Event.RECOVERED, Event.MONITOR_ONLINE}:
        return "success"
    return "info"


def title(digest: Digest) -> str:
    prefix = "linkwatch daily digest" if digest.daily else "linkwatch"
    return f"{prefix}: {summary(digest)}"


def _monitor_text(event: MonitorEvent) -> str:
    if event.event == Event.MONITOR_OFFLINE:
        return (
            f"The monitor has had no network since {fmt_time(event.since or event.at)}: its canary "
            "sites fail. Checks made meanwhile say nothing about your links; no link is declared "
            "dead while this lasts."
        )
    if event.since is not None:
        lasted = _duration((event.at - event.since).total_seconds())
        back = fmt_time(event.at)
        return f"The monitor is back online since {back} (offline for {lasted}). Checks resume."
    return f"The monitor is back online since {fmt_time(event.at)}. Checks resume."


# -- plain text -------------------------------------------------------------------------------


def _group_text(group: ArticleGroup) -> list[str]:
    head = f"{group.title} ({group.location})" if group.title else group.location
    lines = [head, "-" * min(len(head), 72)]
    for entry in group.entries:
        link = entry.link
        lines.append(f'* [{LABELS[link.event].upper()}] "{_anchor(entry)}" -> {link.url}')
        lines += [f"    {line}" for line in _detail_lines(link)]
    lines.append("")
    return lines


def render_text(digest: Digest) -> str:
    lines = [title(digest), ""]
    for event in digest.monitor:
        lines += [_monitor_text(event), ""]
    for group in digest.groups:
        lines += _group_text(group)
    if digest.omitted:
        lines += [f"... and {digest.omitted} more (see `linkwatch report` for every link).", ""]
    return "\n".join(lines).rstrip() + "\n"


# -- HTML -------------------------------------------------------------------------------------


def _href(url: str) -> str:
    """A hyperlink for http(s) URLs, escaped text for anything else."""
    if url.lower().startswith(("http://", "https://")):
        return f'<a href="{escape(url, quote=True)}">{escape(url)}</a>'
    return escape(url)


def _html_line(text: str, link: LinkEvent) -> str:
    """Escape a detail line, turning the URLs it names into hyperlinks."""
    urls = [u for u in (link.archive.url if link.archive else None, link.final_url) if u]
    out = escape(text)
    for url in sorted(set(urls), key=len, reverse=True):
        out = out.replace(escape(url), _href(url))
    return out


def _group_html(group: ArticleGroup) -> str:
    head = escape(group.title) if group.title else escape(group.location)
    where = f' <small style="color:#666">{escape(group.location)}</small>' if group.title else ""
    items = []
    for entry in group.entries:
        link = entry.link
        details = "".join(f"<li>{_html_line(line, link)}</li>" for line in _detail_lines(link))
        items.append(
            f"<li><strong>[{escape(LABELS[link.event])}]</strong> "
            f"&ldquo;{escape(_anchor(entry))}&rdquo; "
            f"&rarr; {_href(link.url)}<ul>{details}</ul></li>"
        )
    return f"<h3>{head}{where}</h3><ul>{''.join(items)}</ul>"


def render_html(digest: Digest) -> str:
    parts = [f"<h2>{escape(title(digest))}</h2>"]
    parts += [f"<p>{escape(_monitor_text(m))}</p>" for m in digest.monitor]
    parts += [_group_html(g) for g in digest.groups]
    if digest.omitted:
        parts.append(
            f"<p>&hellip; and {digest.omitted} more "
            "(see <code>linkwatch report</code> for every link).</p>"
        )
    return "<!doctype html><html><body>" + "".join(parts) + "</body></html>"


def render_digest(digest: Digest) -> Message:
    return Message(
        title=title(digest),
        text=render_text(digest),
        html=render_html(digest),
        severity=severity(digest),
    )


def render_test(channel: str, now: datetime) -> Message:
    text = (
        f"This is a test message from linkwatch to the channel '{channel}', sent {fmt_time(now)}.\n"
        "If you can read it, alerts about broken and recovered links will reach you here.\n"
    )
    html = f"<p>{escape(text).replace(chr(10), '<br>')}</p>"
    return Message(
        title=f"linkwatch: test message for channel {channel}",
        text=text,
        html=html,
        severity="info",
    )
