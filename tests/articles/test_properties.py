"""Property tests: extraction never raises, and every reported span is exact."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.articles.extract import parse_article
from service.articles.sources import read_article_file
from service.errors import InputError
from service.model import Article, LinkKind
from tests.articles.strategies import html_texts, markdown_texts

PROPERTY_SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def check_invariants(text: str, article: Article, fmt: str) -> None:
    lines = text.count("\n") + text.count("\r") + 1
    spans = set()
    for index, occurrence in enumerate(article.occurrences):
        assert occurrence.position == index
        assert 1 <= occurrence.line <= lines
        assert isinstance(occurrence.kind, LinkKind)
        if occurrence.href_span is None:
            # no span only for a bare `<a href>` (no value to point at), or an inline-HTML href
            # whose value spans lines inside a Markdown container (quote markers in between)
            assert "href" in text.lower(), occurrence
            assert occurrence.href == "" or "\n" in occurrence.href, occurrence
            continue
        start, end = occurrence.href_span
        assert text[start:end] == occurrence.href, occurrence
        spans.add((start, end))
    ordered = sorted(spans)
    for (start1, end1), (start2, end2) in itertools.pairwise(ordered):
        # spans never partly overlap (a rewrite of one never corrupts another)
        assert end1 <= start2 or start1 == end1 or start2 == end2, ordered


@PROPERTY_SETTINGS
@given(markdown_texts())
def test_markdown_extraction_never_raises_and_spans_are_exact(text: str) -> None:
    check_invariants(text, parse_article(text, "markdown", "prop.md"), "markdown")


@PROPERTY_SETTINGS
@given(html_texts())
def test_html_extraction_never_raises_and_spans_are_exact(text: str) -> None:
    check_invariants(text, parse_article(text, "html", "prop.html"), "html")


@PROPERTY_SETTINGS
@given(st.text(max_size=300), st.sampled_from(["markdown", "html"]))
def test_arbitrary_unicode_text_never_raises(text: str, fmt: str) -> None:
    article = parse_article(text, fmt, "prop", base_url="https://base.example/a/")
    check_invariants(text, article, fmt)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bytes")


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.one_of(
        st.binary(max_size=400),
        markdown_texts().map(lambda t: t.encode("utf-8", "surrogatepass")),
        html_texts().map(lambda t: t.encode("utf-16")),
    ),
    suffix=st.sampled_from([".md", ".html", ".txt", ".bin", ""]),
)
def test_read_article_file_on_arbitrary_bytes_raises_only_input_error(
    scratch: Path, data: bytes, suffix: str
) -> None:
    path = scratch / f"article{suffix}"
    path.write_bytes(data)
    try:
        article = read_article_file(path)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert article.format in ("markdown", "html")
    assert article.location == str(path)
