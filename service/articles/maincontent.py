"""An HTML article restricted to the links of its main content (pure, no I/O).

`parse_article` reads every `<a href>` of a page with its exact line and source span;
`service.articles.body.body_links` knows which of them are the article body (not navigation,
footers, sidebars, share buttons). `restrict_to_body` keeps the occurrences of the first
that the second names, in document order, renumbered 0..n-1, so a publication's report is
not drowned by the links every page repeats.
"""

from __future__ import annotations

from dataclasses import replace

from service.articles.body import body_links
from service.articles.normalize import clean_spaces
from service.model import Article, Occurrence


def restrict_to_body(article: Article, html: str, base_url: str | None = None) -> Article:
    """`article` (parsed from `html`) with only the occurrences inside the page's main content.

    Markdown articles are returned unchanged (their links are all body links).
    Matching keeps document order: each body link takes the next occurrence with the same
    href, preferring one whose anchor text is the same too.
    """
    if article.format != "html" or not article.occurrences:
        return article
    wanted = body_links(html, base_url or article.base_url)
    kept: list[Occurrence] = []
    occurrences = article.occurrences
    start = 0
    for link in wanted:
        index = _next_match(occurrences, start, clean_spaces(link.href), link.anchor_text)
        if index is None:
            continue
        kept.append(replace(occurrences[index], position=len(kept)))
        start = index + 1
    return replace(article, occurrences=tuple(kept))


def _next_match(
    occurrences: tuple[Occurrence, ...], start: int, href: str, anchor: str
) -> int | None:
    first_href: int | None = None
    for index in range(start, len(occurrences)):
        occ = occurrences[index]
        if clean_spaces(occ.href) != href:
            continue
        if occ.anchor_text == anchor:
            return index
        if first_href is None:
            first_href = index
    return first_href
