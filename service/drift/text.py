"""Main text of an HTML page, and the tokens drift is scored on. Pure: no I/O.

The main text comes from trafilatura (navigation, headers, footers, scripts, styles, cookie
banners and comment sections removed). When trafilatura finds no main text at all (tiny pages
such as a parked domain's "this domain is for sale"), the visible text of the body without
script/style/nav/header/footer/aside is used instead, so a near-empty page still counts as the
few words it shows rather than as "unreadable".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from selectolax.lexbor import LexborHTMLParser as HTMLParser

_WORD = re.compile(r"\w+", re.UNICODE)
_NOT_MAIN = "script, style, noscript, template, nav, header, footer, aside, form, iframe, svg"

# English stopwords (the usual function words; content words only remain).
_STOPWORD_TEXT = """
a about above after again against all am an and any are aren as at be because been before
being below between both but by can cannot could couldn did didn do does doesn doing don down
during each few for from further had hadn has hasn have haven having he her here hers herself
him himself his how i if in into is isn it its itself just ll me more most mustn my myself no
nor not now of off on once only or other ought our ours ourselves out over own re s same shan
she should shouldn so some such t than that the their theirs them themselves then there these
they this those through to too under until up very was wasn we were weren what when where
which while who whom why will with won would wouldn you your yours yourself yourselves ve d m
o y also may might must shall us upon via yet
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())


def words(text: str) -> list[str]:
    """Every word of `text`, lower-cased (letters, digits; punctuation dropped)."""
    return _WORD.findall(text.lower())


def tokens(text: str) -> list[str]:
    """The lower-cased words of `text` without stopwords, in order."""
    return [w for w in words(text) if w not in STOPWORDS]


@dataclass(frozen=True)
class PageText:
    """What drift compares of one page: its title and its main text."""

    title: str | None
    text: str

    @cached_property
    def words(self) -> list[str]:
        return words(self.text)

    @cached_property
    def tokens(self) -> list[str]:
        return [w for w in self.words if w not in STOPWORDS]

    @property
    def word_count(self) -> int:
        return len(self.words)


def _decode(html: bytes | str) -> str:
    if isinstance(html, str):
        return html
    head = html[:4096].decode("ascii", errors="replace")
    match = re.search(r"charset=[\"']?([\w.:-]+)", head, re.IGNORECASE)
    encoding = match.group(1) if match else "utf-8"
    try:
        return html.decode(encoding, errors="replace")
    except LookupError:
        return html.decode("utf-8", errors="replace")


def html_title(tree: HTMLParser) -> str | None:
    node = tree.css_first("title")
    if node is None:
        return None
    title = " ".join(node.text().split())
    return title[:300] or None


def visible_text(tree: HTMLParser) -> str:
    """The body's visible text without script, style and page chrome (the fallback)."""
    body = tree.body
    if body is None:
        return ""
    for node in body.css(_NOT_MAIN):
        node.decompose()
    return " ".join(body.text(separator=" ").split())


def extract_page(html: bytes | str) -> PageText:
    """The title (`<title>`) and main text of an HTML document."""
    source = _decode(html)
    tree = HTMLParser(source)
    title = html_title(tree)
    import trafilatura  # heavy (lxml, htmldate, courlan): only the commands that read pages

    main = trafilatura.extract(
        source,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        deduplicate=False,
        with_metadata=False,
    )
    text = " ".join((main or "").split())
    if not text:
        text = visible_text(tree)
    return PageText(title=title, text=text)
