"""The links of a web page's main content: the article body, not its navigation, sidebars,
share buttons or footers (pure: no I/O, never raises on any input).

    links = body_links(html, "https://example.com/post")      # the article's own links
    every = body_links(html, base_url, all_links=True)        # every <a href> of the page

How the body is found (selectolax/lexbor; no network, no scripts run):

1. `<script>`, `<style>`, `<template>` and `<noscript>` are dropped.
2. *Boilerplate* is every element that is `<nav>`, `<aside>`, `<footer>`, `<form>`,
   `<button>`, `<dialog>`, a page-level `<header>` (not inside `<article>` or `<main>`), has a
   landmark role (`navigation`, `banner`, `contentinfo`, `complementary`, `search`,
   `menu`, `menubar`) or a class/id naming its job (menu, sidebar, share, social, related,
   comments, breadcrumb, widget, newsletter, cookie, ...): see `BOILERPLATE_WORDS`.
3. The *root* is the first of these that holds most of the page's prose (text outside
   links): the largest `<article>`; an `[itemprop=articleBody]`; `<main>` or
   `[role=main]`; an element whose class/id says it holds the content (`entry-content`,
   `post-body`, `article-text`, ...). Failing those, the smallest element holding 80% of
   the page's prose (a readability-style fallback), else `<body>`.
4. The links are the root's `<a href>` elements outside boilerplate, in document order.
   A boilerplate element holding most of the root's prose is kept (a badly named wrapper).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

DROPPED_TAGS = ("script", "style", "template", "noscript")
BOILERPLATE_TAGS = frozenset({"nav", "aside", "footer", "form", "button", "dialog", "menu"})
BOILERPLATE_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"}
)
# Words of a class or id (split on '-', '_', camelCase) that name a non-content element.
BOILERPLATE_WORDS = frozenset(
    {
        "nav",
        "navbar",
        "navigation",
        "menu",
        "menubar",
        "breadcrumb",
        "breadcrumbs",
        "sidebar",
        "widget",
        "widgets",
        "share",
        "sharing",
        "sharethis",
        "addthis",
        "social",
        "related",
        "comments",
        "comment",
        "disqus",
        "footer",
        "masthead",
        "advert",
        "advertisement",
        "ads",
        "sponsored",
        "promo",
        "newsletter",
        "subscribe",
        "cookie",
        "cookies",
        "popup",
        "modal",
        "pagination",
        "pager",
        "skip",
        "toolbar",
    }
)
CONTENT_CLASS = re.compile(
    r"(?:^|[\s_-])(?:(?:entry|post|article|story|blog|main|page)[-_]?(?:content|body|text)"
    r"|articlebody|storybody|content)(?:$|[\s_-])",
    re.IGNORECASE,
)
ROOT_SHARE = 0.4  # a candidate root must hold this share of the page's prose
FALLBACK_SHARE = 0.8  # the fallback root: the smallest element holding this share
KEEP_SHARE = 0.5  # boilerplate holding this share of the root's prose is kept

_WORD_SPLIT = re.compile(r"[\s_\-.:]+|(?<=[a-z])(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class RawBodyLink:
    """One `<a href>` of the page's main content."""

    href: str  # the attribute value as written (surrounding whitespace removed)
    anchor_text: str  # visible text, whitespace collapsed; an image's alt (or the title) when none
    position: int  # 0-based order among the links returned
    url: str | None = None  # href resolved against the page's base; None when it cannot be


def body_links(html: str, base_url: str | None, *, all_links: bool = False) -> list[RawBodyLink]:
    """The links of the page's article body in document order (every link with `all_links`).

    `base_url` is the page's own URL; a `<base href>` in the page takes precedence, as in
    browsers. Never raises: an unreadable page has no links.
    """
    try:
        tree = LexborHTMLParser(html)
    except Exception:  # lexbor refuses some inputs (e.g. lone surrogates): no links then
        return []
    base = _document_base(tree, base_url)
    tree.strip_tags(list(DROPPED_TAGS))
    body = tree.body
    if body is None:
        return []
    if all_links:
        anchors = list(body.css("a[href]"))
    else:
        root = content_root(body)
        skipped = _boilerplate_ids(root)
        anchors = [a for a in root.css("a[href]") if not _inside(a, skipped, root)]
    links: list[RawBodyLink] = []
    for anchor in anchors:
        href = (anchor.attributes.get("href") or "").strip()
        links.append(RawBodyLink(href, _anchor_text(anchor), len(links), _resolve(base, href)))
    return links


# -- the content root ----------------------------------------------------------------------


def content_root(body: LexborNode) -> LexborNode:
    """The element holding the article body (see the module docstring)."""
    page_boiler = _boilerplate_ids(body)
    total = prose_length(body, page_boiler)
    if total == 0:
        return body
    groups: tuple[Iterable[LexborNode], ...] = (
        body.css("article"),
        body.css("[itemprop=articleBody]"),
        body.css("main, [role=main]"),
        (n for n in body.css("[class], [id]") if _content_named(n)),
    )
    for group in groups:
        scored = [
            (prose_length(node, page_boiler), node)
            for node in group
            if not _inside(node, page_boiler, body)
        ]
        if scored:
            best_len, best = max(scored, key=lambda item: item[0])
            if best_len >= ROOT_SHARE * total:
                return best
    return _smallest_holding(body, page_boiler, total)


def _smallest_holding(body: LexborNode, boiler: set[int], total: int) -> LexborNode:
    node = body
    while True:
        for child in _element_children(node):
            if child.mem_id in boiler:
                continue
            if prose_length(child, boiler) >= FALLBACK_SHARE * total:
                node = child
                break
        else:
            return node


def prose_length(node: LexborNode, boiler: set[int] | None = None) -> int:
    """Non-space characters of the text under `node` outside links and boilerplate."""
    return _prose(node, boiler or set())


def _prose(node: LexborNode, boiler: set[int]) -> int:
    total = 0
    child = node.child
    while child is not None:
        if child.is_text_node:
            total += _visible_chars(child.text_content or "")
        elif child.is_element_node and child.tag != "a" and child.mem_id not in boiler:
            total += _prose(child, boiler)
        child = child.next
    return total


def _visible_chars(text: str) -> int:
    return len(text) - sum(1 for ch in text if ch.isspace())


def _element_children(node: LexborNode) -> Iterator[LexborNode]:
    child = node.child
    while child is not None:
        if child.is_element_node:
            yield child
        child = child.next


# -- boilerplate ---------------------------------------------------------------------------


def _words(value: str | None) -> set[str]:
    if not value:
        return set()
    return {w.lower() for w in _WORD_SPLIT.split(value) if w}


def is_boilerplate(node: LexborNode) -> bool:
    """True for navigation, sidebars, share bars, footers and the like (by tag, role, class, id)."""
    tag = node.tag or ""
    if tag in BOILERPLATE_TAGS:
        return True
    attrs = node.attributes
    if tag == "header" and not (_has_ancestor(node, "article") or _has_ancestor(node, "main")):
        return True
    role = (attrs.get("role") or "").strip().lower()
    if role in BOILERPLATE_ROLES:
        return True
    if (attrs.get("aria-hidden") or "").strip().lower() == "true" or "hidden" in attrs:
        return True
    words = _words(attrs.get("class")) | _words(attrs.get("id"))
    return bool(words & BOILERPLATE_WORDS)


def _content_named(node: LexborNode) -> bool:
    attrs = node.attributes
    return any(CONTENT_CLASS.search(attrs.get(name) or "") for name in ("class", "id"))


def _has_ancestor(node: LexborNode, tag: str) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag == tag:
            return True
        parent = parent.parent
    return False


def _boilerplate_ids(root: LexborNode) -> set[int]:
    """mem_ids of the boilerplate elements under `root`, except those holding most of its prose."""
    candidates = [n for n in root.css("*") if is_boilerplate(n)]
    if not candidates:
        return set()
    total = prose_length(root)
    return {n.mem_id for n in candidates if total == 0 or prose_length(n) < KEEP_SHARE * total}


def _inside(node: LexborNode, skipped: set[int], stop: LexborNode) -> bool:
    """True when `node` or an ancestor below `stop` is in `skipped`."""
    current: LexborNode | None = node
    while current is not None and current.mem_id != stop.mem_id:
        if current.mem_id in skipped:
            return True
        current = current.parent
    return False


# -- link details --------------------------------------------------------------------------


def _anchor_text(anchor: LexborNode) -> str:
    text = " ".join(anchor.text(deep=True).split())
    if text:
        return text
    for img in anchor.css("img[alt]"):
        alt = " ".join((img.attributes.get("alt") or "").split())
        if alt:
            return alt
    for name in ("aria-label", "title"):
        label = " ".join((anchor.attributes.get(name) or "").split())
        if label:
            return label
    return ""


def _document_base(tree: LexborHTMLParser, base_url: str | None) -> str | None:
    node = tree.css_first("base[href]")
    href = (node.attributes.get("href") or "").strip() if node is not None else ""
    if not href:
        return base_url
    try:
        return urljoin(base_url, href) if base_url else href
    except ValueError:
        return base_url


def _resolve(base: str | None, href: str) -> str | None:
    try:
        if urlsplit(href).scheme:
            return href
        if base is None:
            return None
        return urljoin(base, href)
    except ValueError:
        return None
