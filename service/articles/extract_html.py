"""Links and metadata of an HTML document, with exact source positions (stdlib html.parser).

Every ``<a href>`` is a link (in document order); its anchor text is the element's visible text,
whitespace collapsed (an image's ``alt`` when there is no text). ``<base href>``, ``<title>``,
``og:title``, ``article:published_time`` and ``<link rel=canonical>`` are collected too.
Never raises on any input.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from service.articles.rawlink import LineTable, RawLink, collapse_spaces

_TAG_NAME = re.compile(r"<[^\s/>]+")
_ATTR = re.compile(
    r"""[\s/]*(?P<name>[^\s/>][^\s/>=]*)"""
    r"""(?:\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<uq>[^\s>]*)))?"""
)
_NO_TEXT_TAGS = frozenset({"script", "style", "template", "noscript"})
_SPACE_TAGS = frozenset({"br", "p", "div", "li", "td", "th", "tr", "h1", "h2", "h3", "h4", "h5"})
_PUBLISHED_KEYS = (
    "article:published_time",
    "og:published_time",
    "citation_publication_date",
    "dc.date",
    "date",
    "pubdate",
)


@dataclass(frozen=True, slots=True)
class TagAttribute:
    """One attribute of a start tag, as written."""

    value: str | None  # raw value (quotes excluded); None for a bare attribute (`<a href>`)
    start: int  # [start, end) of the raw value inside the tag text
    end: int


def find_attribute(tag_text: str, name: str) -> TagAttribute | None:
    """Attribute ``name`` (case-insensitive) of a start tag; the first one wins, as in browsers."""
    head = _TAG_NAME.match(tag_text)
    if not head:
        return None
    pos = head.end()
    while pos < len(tag_text):
        match = _ATTR.match(tag_text, pos)
        if not match or match.end() == pos:
            return None
        if match.group("name").lower() == name:
            for group in ("dq", "sq", "uq"):
                if match.group(group) is not None:
                    return TagAttribute(match.group(group), match.start(group), match.end(group))
            return TagAttribute(None, match.end("name"), match.end("name"))
        pos = match.end()
    return None


@dataclass(slots=True)
class HtmlScan:
    """What an HTML text says: its links, its ``<base href>`` and its metadata (raw strings)."""

    links: list[RawLink] = field(default_factory=list)
    base_href: str | None = None
    title: str | None = None
    og_title: str | None = None
    published: str | None = None
    canonical: str | None = None


@dataclass(slots=True)
class _OpenAnchor:
    href: str
    target: str
    line: int
    span: tuple[int, int] | None
    parts: list[str] = field(default_factory=list)
    alts: list[str] = field(default_factory=list)


class _Collector(HTMLParser):
    def __init__(self, text: str, offset: int, lines: LineTable) -> None:
        super().__init__(convert_charrefs=True)
        # (names chosen not to clash with HTMLParser's own attributes, e.g. `offset`, `lineno`)
        self.source = text  # the whole source (positions are absolute in it)
        self.segment_start = offset  # where the fed segment starts in `text`
        self.line_table = lines  # line table of the whole source
        self.segment_newlines: list[int] = []
        self.scan = HtmlScan()
        self.anchors: list[_OpenAnchor] = []  # document order
        self.open_anchor: int | None = None
        self.no_text_depth = 0
        self.in_title = False
        self.title_parts: list[str] = []
        self.search_from = offset

    def feed_segment(self, segment: str) -> None:
        self.segment_newlines = [0] + [m.end() for m in re.finditer("\n", segment)]
        self.feed(segment)
        self.close()

    # -- positions ----------------------------------------------------------------------------

    def _tag_offset(self, tag_text: str) -> int | None:
        line, col = self.getpos()
        if 1 <= line <= len(self.segment_newlines):
            guess = self.segment_start + self.segment_newlines[line - 1] + col
            if self.source.startswith(tag_text, guess):
                return guess
        found = self.source.find(tag_text, self.search_from)
        return found if found >= 0 else None

    # -- parser callbacks ---------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values: dict[str, str] = {}
        for key, value in attrs:
            values.setdefault(key, value or "")
        if tag == "a" and "href" in values:
            self._open_link(values["href"])
        elif tag == "base" and "href" in values and self.scan.base_href is None:
            self.scan.base_href = values["href"]
        elif tag == "title" and self.scan.title is None:
            self.in_title = True
        elif tag == "meta":
            self._meta(values)
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            if self.scan.canonical is None and values.get("href"):
                self.scan.canonical = values["href"]
        elif tag == "img" and self.open_anchor is not None and values.get("alt"):
            self.anchors[self.open_anchor].alts.append(values["alt"])
        if tag in _NO_TEXT_TAGS:
            self.no_text_depth += 1
        if tag in _SPACE_TAGS:
            self._text(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # In HTML a "/>" on a non-void element is ignored: <a href=x/> still opens an anchor.
        self.handle_starttag(tag, attrs)
        if tag in _NO_TEXT_TAGS:
            self.no_text_depth = max(0, self.no_text_depth - 1)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._close_link()
        elif tag == "title" and self.in_title:
            self.in_title = False
            self.scan.title = collapse_spaces("".join(self.title_parts)) or None
        elif tag in _NO_TEXT_TAGS:
            self.no_text_depth = max(0, self.no_text_depth - 1)
        if tag in _SPACE_TAGS:
            self._text(" ")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
        if self.no_text_depth == 0:
            self._text(data)

    # -- helpers ------------------------------------------------------------------------------

    def _text(self, data: str) -> None:
        if self.open_anchor is not None:
            self.anchors[self.open_anchor].parts.append(data)

    def _open_link(self, target: str) -> None:
        self._close_link()  # anchors do not nest
        tag_text = self.get_starttag_text() or ""
        start = self._tag_offset(tag_text) if tag_text else None
        href, span = target, None
        if start is not None:
            self.search_from = start + len(tag_text)
            found = find_attribute(tag_text, "href")
            if found is not None and found.value is not None:
                href = found.value
                span = (start + found.start, start + found.end)
        line = self.line_table.line_number(start if start is not None else self.search_from)
        self.anchors.append(_OpenAnchor(href, target, line, span))
        self.open_anchor = len(self.anchors) - 1

    def _close_link(self) -> None:
        self.open_anchor = None

    def _meta(self, values: dict[str, str]) -> None:
        key = (values.get("property") or values.get("name") or "").strip().lower()
        content = values.get("content", "").strip()
        if not key or not content:
            return
        if key == "og:title" and self.scan.og_title is None:
            self.scan.og_title = content
        elif key in _PUBLISHED_KEYS and self.scan.published is None:
            self.scan.published = content
        elif key == "og:url" and self.scan.canonical is None:
            self.scan.canonical = content

    def result(self) -> HtmlScan:
        if self.in_title and self.scan.title is None:
            self.scan.title = collapse_spaces("".join(self.title_parts)) or None
        for anchor in self.anchors:
            text = collapse_spaces("".join(anchor.parts)) or collapse_spaces(" ".join(anchor.alts))
            self.scan.links.append(
                RawLink(anchor.href, anchor.target, text, anchor.line, anchor.span)
            )
        return self.scan


def scan_html(
    text: str, start: int = 0, end: int | None = None, lines: LineTable | None = None
) -> HtmlScan:
    """Scan ``text[start:end]`` as HTML; positions and lines are those of the whole ``text``."""
    stop = len(text) if end is None else end
    collector = _Collector(text, start, lines or LineTable(text))
    # html.parser raises (AssertionError, ...) on some broken markup: keep what was found so far.
    with contextlib.suppress(Exception):
        collector.feed_segment(text[start:stop])
    return collector.result()
