"""Article metadata: title, published date, original URL (pure functions, no I/O).

Sources: a Markdown front matter block (a leading ``---`` block of ``key: value`` lines, parsed by
hand), HTML ``<title>`` / ``og:title`` / ``article:published_time`` / ``<link rel=canonical>``
(collected by :mod:`service.articles.extract_html`), and the user's overrides (``merge_meta``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime

from service.articles.normalize import normalize_url
from service.errors import UsageError
from service.model import ArticleMeta

_FRONT_OPEN = re.compile(r"\A\ufeff?---[ \t]*(?:\r\n|\r|\n)")
_FRONT_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$")
_LINE_RE = re.compile(r"\r\n|\r|\n")
_KEY_VALUE = re.compile(r"^([A-Za-z_][\w\-]*)[ \t]*:(?:[ \t]+(.*?)|)[ \t]*$")

TITLE_KEYS = ("title",)
DATE_KEYS = ("published", "date", "published_at", "pubdate")
URL_KEYS = ("source_url", "canonical_url", "canonical", "original_url")

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y")


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """A parsed front matter block: its fields and where the Markdown body starts."""

    fields: dict[str, str]
    body_offset: int  # character offset of the first body character in the text
    body_line: int  # 0-based line index of the first body line


def split_front_matter(text: str) -> FrontMatter:
    """The front matter fields (keys lower-cased) and body position; empty when there is none."""
    opening = _FRONT_OPEN.match(text)
    if not opening:
        return FrontMatter({}, 0, 0)
    offset = opening.end()
    line_index = 1
    raw_lines: list[str] = []
    while offset <= len(text):
        newline = _LINE_RE.search(text, offset)
        end = newline.start() if newline else len(text)
        line = text[offset:end]
        next_offset = newline.end() if newline else len(text) + 1
        if _FRONT_CLOSE.match(line):
            body = min(next_offset, len(text))
            return FrontMatter(_parse_fields(raw_lines), body, line_index + 1)
        raw_lines.append(line)
        line_index += 1
        offset = next_offset
    return FrontMatter({}, 0, 0)  # never closed: not front matter


def _parse_fields(lines: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in lines:
        match = _KEY_VALUE.match(line)
        if not match:
            continue  # nested values, list items, comments: not ours
        key = match.group(1).lower()
        value = _scalar(match.group(2) or "")
        if value and key not in fields:
            fields[key] = value
    return fields


def _scalar(raw: str) -> str:
    """A YAML-ish scalar: quoted (with escapes) or plain (with `` #comment`` removed)."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return _unescape_double(raw[1:-1])
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    comment = re.search(r"\s#", raw)
    if comment:
        raw = raw[: comment.start()]
    return raw.strip()


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/", "r": "\r", "0": "\0"}


def _unescape_double(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_date(value: str) -> date | None:
    """A date from ``2018-05-26``, an ISO datetime (its date as written), or ``May 26, 2018``."""
    text = value.strip().strip("\"'")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1)).date()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def clean_source_url(value: str | None) -> str | None:
    """``value`` normalised when it is an absolute http(s) URL, else None."""
    if not value:
        return None
    try:
        return normalize_url(value)
    except ValueError:
        return None


def meta_from_fields(
    title: str | None, published: str | None, source_url: str | None
) -> ArticleMeta:
    """ArticleMeta from raw strings; unusable values (bad date, non-http URL) become None."""
    clean_title = " ".join(title.split()) if title else None
    return ArticleMeta(
        title=clean_title or None,
        published=parse_date(published) if published else None,
        source_url=clean_source_url(source_url),
    )


def meta_from_front_matter(fields: dict[str, str]) -> ArticleMeta:
    """ArticleMeta from front matter fields (title, published/date, source_url/...)."""
    return meta_from_fields(
        _first(fields, TITLE_KEYS), _first(fields, DATE_KEYS), _first(fields, URL_KEYS)
    )


def _first(fields: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if fields.get(key):
            return fields[key]
    return None


def merge_meta(
    found: ArticleMeta,
    published: date | datetime | str | None = None,
    source_url: str | None = None,
) -> ArticleMeta:
    """``found`` with the user's overrides applied; a bad override raises ``UsageError``."""
    meta = found
    if published is not None:
        meta = replace(meta, published=_override_date(published))
    if source_url is not None:
        try:
            meta = replace(meta, source_url=normalize_url(source_url))
        except ValueError as exc:
            raise UsageError(f"invalid source URL {source_url!r}: {exc}") from None
    return meta


def overlay_meta(found: ArticleMeta, override: ArticleMeta | None) -> ArticleMeta:
    """``found`` with every non-None field of ``override`` taking precedence."""
    if override is None:
        return found
    return ArticleMeta(
        title=override.title if override.title is not None else found.title,
        published=override.published if override.published is not None else found.published,
        source_url=override.source_url if override.source_url is not None else found.source_url,
    )


def _override_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parsed = parse_date(value)
    if parsed is None:
        raise UsageError(f"invalid published date {value!r}: expected YYYY-MM-DD")
    return parsed
