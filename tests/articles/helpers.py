"""Assertions shared by the extraction tests."""

from __future__ import annotations

from service.model import Article


def assert_spans_round_trip(text: str, article: Article) -> None:
    """Every occurrence's href_span points at its href, as written, in the source text."""
    for occurrence in article.occurrences:
        assert occurrence.href_span is not None, occurrence
        start, end = occurrence.href_span
        assert text[start:end] == occurrence.href, occurrence


def rewrite(text: str, article: Article, new_href: str) -> str:
    """Replace every href in place (distinct spans, from the end), as a link fixer would."""
    spans = sorted({o.href_span for o in article.occurrences if o.href_span}, reverse=True)
    for start, end in spans:
        text = text[:start] + new_href + text[end:]
    return text
