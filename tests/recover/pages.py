"""Synthetic captured originals: realistic pages (site navigation, sidebar, share bar, footer)
around an article body built from (anchor text, target) pairs."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

NAV = (
    '<header class="site-header"><div class="logo"><a href="/">Example News</a></div>'
    '<nav class="main-menu"><ul>{items}</ul></nav></header>'
)
SIDEBAR = (
    '<aside class="sidebar"><h3>Most popular</h3><ul>{items}</ul>'
    "<p>Our most read stories of the week, chosen by readers like you.</p></aside>"
)
SHARE = (
    '<div class="share-buttons"><a href="https://www.facebook.com/sharer.php?u=x">Share</a>'
    '<a href="https://twitter.com/intent/tweet?url=x">Tweet</a></div>'
)
FOOTER = (
    '<footer id="colophon"><p>Copyright Example News.</p><ul>{items}</ul>'
    '<a href="/about">About us</a><a href="/privacy">Privacy</a></footer>'
)
FILLER = (
    "This sentence is article prose that gives the body its weight, as real articles have "
    "paragraphs of text between their links. "
)


def anchor(text: str, href: str) -> str:
    return f'<a href="{escape(href, quote=True)}">{escape(text)}</a>'


def items(links: Sequence[tuple[str, str]]) -> str:
    return "".join(f"<li>{anchor(t, h)}</li>" for t, h in links)


def page(
    body_links: Sequence[tuple[str, str]],
    *,
    nav: Sequence[tuple[str, str]] = (),
    sidebar: Sequence[tuple[str, str]] = (),
    footer: Sequence[tuple[str, str]] = (),
    byline: Sequence[tuple[str, str]] = (),
    per_paragraph: int = 3,
    title: str = "An article",
) -> str:
    """A whole page: the body links in paragraphs of prose, inside <article>, amid boilerplate."""
    paragraphs = []
    for start in range(0, len(body_links), per_paragraph):
        chunk = body_links[start : start + per_paragraph]
        inner = " ".join(f"{FILLER}{anchor(t, h)} continues here." for t, h in chunk)
        paragraphs.append(f"<p>{inner}</p>")
    if not paragraphs:
        paragraphs.append(f"<p>{FILLER * 3}</p>")
    head = "".join(anchor(t, h) + " " for t, h in byline)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>"
        + NAV.format(items=items(nav))
        + '<div id="page" class="wrapper"><main id="main">'
        + f'<article class="post"><header class="entry-header"><h1>{escape(title)}</h1>'
        + f'<p class="byline">{head}</p></header>'
        + '<div class="entry-content">'
        + "\n".join(paragraphs)
        + "</div>"
        + SHARE
        + "</article></main>"
        + SIDEBAR.format(items=items(sidebar))
        + "</div>"
        + FOOTER.format(items=items(footer))
        + "</body></html>"
    )
