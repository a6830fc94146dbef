"""Links of a Markdown text (markdown-it-py, CommonMark), with exact source positions.

Counted as links: inline links ``[t](href)``, reference links ``[t][ref]`` / ``[t][]`` / ``[t]``
(the href is the definition's destination), autolinks ``<http://...>`` / ``<a@b.c>``, bare URLs in
text (``http://``, ``https://``, ``www.``; GFM's trailing-punctuation rules), and ``<a href>``
in inline HTML or HTML blocks. Not links: images, code spans, code blocks, definitions themselves.

markdown-it's tokens carry no character positions, so a few of its rules are wrapped to note
where each destination sits in the inline source; those offsets are then mapped back to the
original text (line by line) and checked: ``text[start:end] == href`` for every span reported.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import isStrSpace, normalizeReference, unescapeAll
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block import reference as md_reference
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline import autolink as md_autolink
from markdown_it.rules_inline import html_inline as md_html_inline
from markdown_it.rules_inline import link as md_link
from markdown_it.token import Token

from service.articles.extract_html import find_attribute, scan_html
from service.articles.rawlink import LineTable, RawLink, collapse_spaces

_META = "linkwatch"  # key in Token.meta: where the link's destination was found
_REFS = "linkwatch_refs"  # key in env: where each reference definition's destination is

_A_OPEN = re.compile(r"<a[\s/>]", re.IGNORECASE)
_A_CLOSE = re.compile(r"</a[\s>]", re.IGNORECASE)

# Bare URLs (GFM "extended autolinks"): where they may start, what they look like.
_BARE_START = re.compile(r"https?://|www\.", re.IGNORECASE)
_BARE_URL = re.compile(
    r"(?:https?://(?:\[[0-9A-Fa-f:.]+\]|[\w\-]+(?:\.[\w\-]+)*)|www\.[\w\-]+(?:\.[\w\-]+)+)"
    r"(?::\d*)?(?:[/?#][^\s<]*)?",
    re.IGNORECASE,
)
_BARE_PRECEDERS = frozenset(" \t\n*_~(\"'")
_TRAILING_PUNCT = frozenset("?!.,:*_~'\"")
_ENTITY_TAIL = re.compile(r"&[A-Za-z0-9]+;$")


# --------------------------------------------------------------------------------------------
# The parser: markdown-it with position-noting rules. Links are never rendered, so nothing is
# "validated" away (javascript: links are links too) and hrefs are left as written.


class _LinkParser(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return True

    def normalizeLink(self, url: str) -> str:
        return url

    def normalizeLinkText(self, link: str) -> str:
        return link


def _new_tokens(state: StateInline, first: int, kind: str) -> Token | None:
    for token in state.tokens[first:]:
        if token.type == kind:
            return token
    return None


def _link_rule(state: StateInline, silent: bool) -> bool:
    if silent:
        return md_link(state, True)
    start, maximum, first = state.pos, state.posMax, len(state.tokens)
    if not md_link(state, False):
        return False
    opener = _new_tokens(state, first, "link_open")
    if opener is not None:
        opener.meta[_META] = _link_source(state, start, maximum)
    return True


def _link_source(state: StateInline, start: int, maximum: int) -> dict[str, Any]:
    """Where the link at ``start`` has its destination (inline link) or its reference label."""
    src = state.src
    label_end: int = state.md.helpers.parseLinkLabel(state, start, True)
    if label_end < 0:
        return {"start": start}
    dest = _inline_destination(state, label_end + 1, maximum)
    if dest is not None:
        return {"start": start, "dest": dest, "target": unescapeAll(src[dest[0] : dest[1]])}
    label = None
    pos = label_end + 1
    if pos < maximum and src[pos] == "[":
        end: int = state.md.helpers.parseLinkLabel(state, pos)
        if end >= 0:
            label = src[pos + 1 : end]
    if not label:
        label = src[start + 1 : label_end]
    return {"start": start, "ref": normalizeReference(label)}


def _skip_spaces(src: str, pos: int, maximum: int) -> int:
    while pos < maximum and (isStrSpace(src[pos]) or src[pos] == "\n"):
        pos += 1
    return pos


def _inline_destination(state: StateInline, pos: int, maximum: int) -> tuple[int, int] | None:
    """markdown-it's inline-link grammar again, keeping the destination's [start, end)."""
    src = state.src
    if pos >= maximum or src[pos] != "(":
        return None
    pos = _skip_spaces(src, pos + 1, maximum)
    if pos >= maximum:
        return None
    dest = (pos, pos)
    res = state.md.helpers.parseLinkDestination(src, pos, maximum)
    if res.ok:
        dest = (pos + 1, res.pos - 1) if src[pos] == "<" else (pos, res.pos)
        pos = res.pos
        title_start = pos
        pos = _skip_spaces(src, pos, maximum)
        title = state.md.helpers.parseLinkTitle(src, pos, maximum)
        if pos < maximum and title_start != pos and title.ok:
            pos = _skip_spaces(src, title.pos, maximum)
    if pos >= maximum or src[pos] != ")":
        return None
    return dest


def _autolink_rule(state: StateInline, silent: bool) -> bool:
    start, first = state.pos, len(state.tokens)
    if not md_autolink(state, silent):
        return False
    opener = None if silent else _new_tokens(state, first, "link_open")
    if opener is not None:
        dest = (start + 1, state.pos - 1)
        opener.meta[_META] = {"start": start, "dest": dest, "target": opener.attrGet("href")}
    return True


def _html_inline_rule(state: StateInline, silent: bool) -> bool:
    start, first = state.pos, len(state.tokens)
    if not md_html_inline(state, silent):
        return False
    token = None if silent else _new_tokens(state, first, "html_inline")
    if token is not None:
        token.meta[_META] = {"start": start}
    return True


def _bare_url_length(src: str, pos: int, maximum: int) -> int:
    if pos > 0 and src[pos - 1] not in _BARE_PRECEDERS:
        return 0
    match = _BARE_URL.match(src, pos, maximum)
    if not match:
        return 0
    url = match.group(0)
    while url:
        last = url[-1]
        unbalanced = (last == ")" and url.count("(") < url.count(")")) or (
            last == "]" and url.count("[") < url.count("]")
        )
        if last in _TRAILING_PUNCT or unbalanced:
            url = url[:-1]
        elif last == ";" and (entity := _ENTITY_TAIL.search(url)):
            url = url[: entity.start()]
        else:
            break
    return len(url) if _BARE_URL.fullmatch(url) else 0


def _bare_url_rule(state: StateInline, silent: bool) -> bool:
    # Silent mode is the look-ahead that finds where a link label ends: a bare URL must not
    # swallow the label's "]" there (GFM finds bare URLs only in text that is not a link).
    if silent or state.linkLevel > 0 or state.src[state.pos] not in "hHwW":
        return False
    start = state.pos
    length = _bare_url_length(state.src, start, state.posMax)
    if not length:
        return False
    raw = state.src[start : start + length]
    target = raw if raw[:4].lower() == "http" else "http://" + raw
    opener = state.push("link_open", "a", 1)
    opener.attrs = {"href": target}
    opener.markup = "linkify"
    opener.meta[_META] = {"start": start, "dest": (start, start + length), "target": target}
    text = state.push("text", "", 0)
    text.content = raw
    closer = state.push("link_close", "a", -1)
    closer.markup = "linkify"
    state.pos += length
    return True


def _append_pending(state: StateInline, text: str) -> None:
    append = getattr(state, "append_pending", None)  # markdown-it-py >= 4: amortised O(1)
    if append is not None:
        append(text)
    else:
        state.pending += text


def _text_rule(state: StateInline, silent: bool) -> bool:
    """markdown-it's text rule, also stopping where a bare URL may start."""
    pos = state.pos
    terminator = state.md.inline.terminator_re.search(state.src, pos)
    stop = terminator.start() if terminator else state.posMax
    if state.linkLevel == 0 and stop > pos + 1:
        # ":" may be a terminator: look a few characters past it for "https://".
        window = min(stop + 8, state.posMax)
        candidate = _BARE_START.search(state.src, pos + 1, window)
        if candidate and candidate.start() < stop:
            stop = candidate.start()
    if stop == pos:
        return False
    if not silent:
        _append_pending(state, state.src[pos:stop])
    state.pos = stop
    return True


def _reference_rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    known = len(state.env.get("references") or {})
    if not md_reference(state, start_line, end_line, silent):
        return False
    references = state.env.get("references") or {}
    if not silent and len(references) > known:
        label = next(reversed(references))  # the definition just added (dicts keep order)
        state.env.setdefault(_REFS, {})[label] = _definition_destination(state, start_line)
    return True


def _definition_destination(state: StateBlock, start_line: int) -> tuple[int, int, str] | None:
    """(body line, column, raw destination) of the definition that starts at ``start_line``."""
    string = ""
    pieces: list[tuple[int, int, int]] = []  # (offset in string, line, offset in state.src)
    for line in range(start_line, max(state.line, start_line + 1)):
        begin = state.bMarks[line] + state.tShift[line]
        pieces.append((len(string), line, begin))
        string += state.src[begin : state.eMarks[line] + 1]
    pos, label_end = 1, -1
    while pos < len(string):
        if string[pos] == "[":
            return None
        if string[pos] == "]":
            label_end = pos
            break
        pos += 2 if string[pos] == "\\" else 1
    if label_end < 0 or string[label_end + 1 : label_end + 2] != ":":
        return None
    pos = label_end + 2
    while pos < len(string) and string[pos] in " \t\n":
        pos += 1
    res = state.md.helpers.parseLinkDestination(string, pos, len(string))
    if not res.ok:
        return None
    begin, end = (pos + 1, res.pos - 1) if string[pos] == "<" else (pos, res.pos)
    offset, line, src_begin = next(p for p in reversed(pieces) if p[0] <= begin)
    absolute = src_begin + begin - offset
    line_start = state.src.rfind("\n", 0, absolute) + 1
    return line, absolute - line_start, string[begin:end]


def _build_parser() -> MarkdownIt:
    md = _LinkParser("commonmark")
    md.inline.ruler.at("link", _link_rule)
    md.inline.ruler.at("autolink", _autolink_rule)
    md.inline.ruler.at("html_inline", _html_inline_rule)
    md.inline.ruler.at("text", _text_rule)
    md.inline.ruler.before("text", "bare_url", _bare_url_rule)
    md.block.ruler.at("reference", _reference_rule)
    return md


_PARSER = _build_parser()


# --------------------------------------------------------------------------------------------
# From tokens back to the source text.


class _ContentMap:
    """Maps offsets in an inline token's content to offsets in the original text."""

    def __init__(
        self, content: str, lines_span: tuple[int, int], lines: LineTable, cursor: dict[int, int]
    ) -> None:
        self.content = content
        self.lines = lines
        self.cursor = cursor  # per original line: where the last located href ended (column)
        self.newlines = [m.start() for m in re.finditer("\n", content)]
        self._aligned: dict[int, tuple[str, list[int]]] = {}
        self.first_line = self._first_line(*lines_span)  # 0-based line of the original text

    def _first_line(self, start: int, end: int) -> int:
        """The source line of the content's first line.

        markdown-it strips a paragraph with Python's ``str.strip``, which also removes leading
        lines of Unicode-only whitespace (e.g. a line holding a no-break space).
        """
        slack = (end - start) - (len(self.newlines) + 1)
        first_piece = self.content.split("\n", 1)[0].strip()
        if slack <= 0 or not first_piece:
            return start
        for skipped in range(slack + 1):
            if first_piece in self.lines.line(start + skipped):
                return start + skipped
        return start

    def line_index(self, rel: int) -> int:
        return self.first_line + bisect_right(self.newlines, rel - 1)

    def locate(self, rel: int, raw: str) -> tuple[int, int] | None:
        """The [start, end) in the original text of ``raw`` found at ``rel`` in the content."""
        index = bisect_right(self.newlines, rel - 1)
        content_start = self.newlines[index - 1] + 1 if index else 0
        line_no = self.first_line + index
        line, shifts = self._alignment(index)
        floor = self.cursor.get(line_no, 0)
        col = rel - content_start
        candidates = [col + shift for shift in shifts]
        if raw:
            found = line.find(raw, floor)
            if found >= 0:
                candidates.append(found)
        for column in candidates:
            if column >= floor and line.startswith(raw, column) and column + len(raw) <= len(line):
                self.cursor[line_no] = column + len(raw)
                start = self.lines.start(line_no) + column
                return start, start + len(raw)
        return None

    def locate_multiline(self, rel: int, raw: str) -> tuple[int, int] | None:
        """Like ``locate`` for a ``raw`` holding line breaks (any of CRLF, CR, LF in the source)."""
        first, _, _ = raw.partition("\n")
        head = self.locate(rel, first)
        if head is None:
            return None
        pattern = re.compile(r"(?:\r\n|\r|\n)".join(re.escape(part) for part in raw.split("\n")))
        match = pattern.match(self.lines.text, head[0])
        return (head[0], match.end()) if match else None

    def _alignment(self, index: int) -> tuple[str, list[int]]:
        """Source line of content line ``index`` and the likely column shifts content->source."""
        cached = self._aligned.get(index)
        if cached is not None:
            return cached
        content_start = self.newlines[index - 1] + 1 if index else 0
        content_end = self.newlines[index] if index < len(self.newlines) else len(self.content)
        piece = self.content[content_start:content_end]
        line = self.lines.line(self.first_line + index)
        shifts = []
        tail, line_tail = piece.rstrip(), line.rstrip()
        if tail and line_tail.endswith(tail):  # content lines are suffixes of source lines
            shifts.append(len(line_tail) - len(tail))
        stripped = piece.lstrip()
        found = line.find(stripped) if stripped else -1
        if found >= 0:  # e.g. a heading's text before its closing #s, a table cell
            shifts.append(found - (len(piece) - len(stripped)))
        self._aligned[index] = (line, shifts)
        return line, shifts


@dataclass(slots=True)
class _Pending:
    href: str
    target: str
    line: int
    span: tuple[int, int] | None
    parts: list[str] = field(default_factory=list)

    def done(self) -> RawLink:
        return RawLink(
            self.href, self.target, collapse_spaces("".join(self.parts)), self.line, self.span
        )


def _visible_text(token: Token) -> str:
    if token.type in ("text", "code_inline"):
        return token.content
    if token.type in ("softbreak", "hardbreak"):
        return " "
    if token.type == "image":
        return "".join(_visible_text(child) for child in token.children or [])
    return ""


@dataclass(slots=True)
class MarkdownScan:
    """The links of a Markdown text (document order) and its first level-1 heading."""

    links: list[RawLink] = field(default_factory=list)
    first_heading: str | None = None


class _Walker:
    def __init__(self, text: str, lines: LineTable, body_line: int, env: dict[str, Any]) -> None:
        self.text = text
        self.lines = lines
        self.body_line = body_line
        self.references: dict[str, tuple[int, int, str] | None] = env.get(_REFS, {})
        self.cursor: dict[int, int] = {}
        self.found: list[_Pending | RawLink] = []

    def block(self, token: Token) -> None:
        if token.type == "inline":
            self.inline(token)
        elif token.type == "html_block" and token.map:
            first, last = token.map[0] + self.body_line, token.map[1] - 1 + self.body_line
            end = self.lines.ends[min(last, len(self.lines) - 1)]
            scan = scan_html(self.text, self.lines.start(first), end, self.lines)
            self.found.extend(scan.links)

    def inline(self, token: Token) -> None:
        first, end = token.map if token.map else (0, 1)
        lines_span = (first + self.body_line, end + self.body_line)
        where = _ContentMap(token.content, lines_span, self.lines, self.cursor)
        open_md: list[_Pending] = []
        open_html: list[_Pending] = []
        for child in token.children or []:
            if child.type == "link_open":
                pending = self._markdown_link(child, where)
                open_md.append(pending)
                self.found.append(pending)
            elif child.type == "link_close":
                if open_md:
                    open_md.pop()
            elif child.type == "html_inline" and _A_OPEN.match(child.content):
                pending_html = self._html_link(child, where)
                if pending_html is not None:
                    open_html[:] = [pending_html]  # anchors do not nest
                    self.found.append(pending_html)
            elif child.type == "html_inline" and _A_CLOSE.match(child.content):
                open_html.clear()
            else:
                text = _visible_text(child)
                for pending in (*open_md, *open_html):
                    pending.parts.append(text)

    def _markdown_link(self, opener: Token, where: _ContentMap) -> _Pending:
        info: dict[str, Any] = opener.meta.get(_META) or {}
        fallback = str(opener.attrGet("href") or "")
        line = where.line_index(info.get("start", 0)) + 1
        if "dest" in info:
            begin, end = info["dest"]
            raw = where.content[begin:end]
            return _Pending(raw, str(info["target"]), line, where.locate(begin, raw))
        if "ref" in info:
            definition = self.references.get(info["ref"])
            if definition is not None:
                def_line, column, raw = definition
                start = self.lines.start(def_line + self.body_line) + column
                exact = self.text[start : start + len(raw)] == raw
                span = (start, start + len(raw)) if exact else None
                return _Pending(raw, unescapeAll(raw), line, span)
        return _Pending(fallback, fallback, line, None)

    def _html_link(self, tag: Token, where: _ContentMap) -> _Pending | None:
        found = find_attribute(tag.content, "href")
        if found is None:
            return None
        start = int((tag.meta.get(_META) or {}).get("start", 0))
        line = where.line_index(start) + 1
        if found.value is None:
            return _Pending("", "", line, None)
        value = found.value
        if "\n" in value:  # an attribute value may span lines
            span = where.locate_multiline(start + found.start, value)
            if span is not None:
                value = self.text[span[0] : span[1]]  # as written (its line breaks may be CRLF)
        else:
            span = where.locate(start + found.start, value)
        return _Pending(value, html.unescape(value), line, span)


def scan_markdown(text: str, body_offset: int = 0, body_line: int = 0) -> MarkdownScan:
    """Links of the Markdown body ``text[body_offset:]`` (which starts at 0-based ``body_line``).

    Positions and line numbers are those of the whole ``text``.
    """
    env: dict[str, Any] = {}
    # markdown-it reads NUL as U+FFFD (same length): locate hrefs in a text that does the same,
    # then report them as written.
    seen = text.replace("\x00", "\ufffd")
    tokens = _PARSER.parse(seen[body_offset:], env)
    walker = _Walker(seen, LineTable(seen), body_line, env)
    heading: str | None = None
    for index, token in enumerate(tokens):
        walker.block(token)
        if heading is None and token.type == "heading_open" and token.tag == "h1":
            inline = tokens[index + 1] if index + 1 < len(tokens) else None
            if inline is not None and inline.type == "inline":
                parts = [_visible_text(child) for child in inline.children or []]
                heading = collapse_spaces("".join(parts)) or None
    links = []
    for item in walker.found:
        link = item.done() if isinstance(item, _Pending) else item
        if link.span is not None and "\x00" in text:
            link = replace(link, href=text[link.span[0] : link.span[1]])
        links.append(link)
    return MarkdownScan(links, heading)
