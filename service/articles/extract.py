"""parse_article: an article's text becomes an ``Article`` (metadata + classified occurrences).

Pure: no I/O. Never raises on any text (only on an unknown ``fmt``).
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urljoin

from service.articles.extract_html import scan_html
from service.articles.extract_markdown import scan_markdown
from service.articles.kinds import classify_href, usable_base
from service.articles.metadata import (
    meta_from_fields,
    meta_from_front_matter,
    overlay_meta,
    split_front_matter,
)
from service.articles.normalize import clean_spaces
from service.articles.rawlink import RawLink
from service.model import Article, ArticleMeta, Occurrence

FORMATS = ("markdown", "html")


def parse_article(
    text: str,
    fmt: str,
    location: str,
    base_url: str | None = None,
    meta_override: ArticleMeta | None = None,
) -> Article:
    """Extract metadata and every link occurrence of an article (``fmt``: "markdown" | "html").

    Relative links are resolved against the base URL: for Markdown ``base_url`` else the
    metadata's ``source_url``; for HTML the document's ``<base href>`` (itself resolved against
    ``base_url``, as browsers do), else ``base_url``, else the canonical URL.
    ``meta_override``'s non-None fields replace what the article says about itself.
    """
    if fmt == "markdown":
        front = split_front_matter(text)
        found_meta = meta_from_front_matter(front.fields)
        scan = scan_markdown(text, front.body_offset, front.body_line)
        if found_meta.title is None and scan.first_heading:
            found_meta = replace(found_meta, title=scan.first_heading)
        meta = overlay_meta(found_meta, meta_override)
        base = usable_base(base_url) or usable_base(meta.source_url)
        links = scan.links
    elif fmt == "html":
        html_scan = scan_html(text)
        found_meta = meta_from_fields(
            html_scan.og_title or html_scan.title, html_scan.published, html_scan.canonical
        )
        meta = overlay_meta(found_meta, meta_override)
        document = usable_base(base_url) or usable_base(meta.source_url)
        base = _html_base(html_scan.base_href, document)
        links = html_scan.links
    else:
        raise ValueError(f"unknown article format {fmt!r} (expected one of {', '.join(FORMATS)})")
    occurrences = tuple(_occurrence(link, index, base) for index, link in enumerate(links))
    return Article(location=location, format=fmt, meta=meta, occurrences=occurrences, base_url=base)


def _html_base(base_href: str | None, document: str | None) -> str | None:
    if base_href is None:
        return document
    href = clean_spaces(base_href)
    try:
        resolved = urljoin(document, href) if document else href
    except ValueError:
        return document
    return usable_base(resolved) or document


def _occurrence(link: RawLink, position: int, base: str | None) -> Occurrence:
    kind, url, fragment = classify_href(link.target, base)
    return Occurrence(
        href=link.href,
        anchor_text=link.anchor_text,
        line=link.line,
        kind=kind,
        url=url,
        fragment=fragment,
        position=position,
        href_span=link.span,
    )
