"""Article metadata: front matter, HTML meta tags, and the user's overrides."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from service.articles.extract import parse_article
from service.articles.metadata import merge_meta, parse_date, split_front_matter
from service.errors import UsageError
from service.model import ArticleMeta


def test_front_matter_fields_and_body_position() -> None:
    text = (
        "---\n"
        'title: "Quoted: \\"title\\""\n'
        "date: 2018-05-26\n"
        "source_url: https://Example.org/post  # where it first appeared\n"
        "tags:\n"
        "  - a\n"
        "---\n"
        "Body [x](#)\n"
    )
    front = split_front_matter(text)
    assert front.fields["title"] == 'Quoted: "title"'
    assert front.fields["date"] == "2018-05-26"
    assert front.fields["source_url"] == "https://Example.org/post"
    assert text[front.body_offset :] == "Body [x](#)\n"
    assert front.body_line == 7
    article = parse_article(text, "markdown", "a.md")
    assert article.meta == ArticleMeta(
        title='Quoted: "title"', published=date(2018, 5, 26), source_url="https://example.org/post"
    )
    assert article.occurrences[0].line == 8


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["published: '2019-01-02T10:00:00+02:00'"], ArticleMeta(published=date(2019, 1, 2))),
        (["date: 2020-03-04 08:00:00"], ArticleMeta(published=date(2020, 3, 4))),
        (["Published: 2021-12-31T23:59:59Z"], ArticleMeta(published=date(2021, 12, 31))),
        (["canonical_url: https://x.example/a"], ArticleMeta(source_url="https://x.example/a")),
        (["title: It's   plain"], ArticleMeta(title="It's plain")),
        (["title: 'It''s quoted'"], ArticleMeta(title="It's quoted")),
        (["date: not a date", "source_url: not-a-url"], ArticleMeta()),
        (["published: 2018-05-26", "date: 1999-01-01"], ArticleMeta(published=date(2018, 5, 26))),
    ],
)
def test_front_matter_values(lines: list[str], expected: ArticleMeta) -> None:
    text = "---\n" + "\n".join(lines) + "\n---\n\ntext\n"
    assert parse_article(text, "markdown", "a.md").meta == expected


def test_front_matter_with_crlf_and_bom_and_dots_closing() -> None:
    text = "\ufeff---\r\ntitle: T\r\n...\r\n[a](#)\r\n"
    article = parse_article(text, "markdown", "a.md")
    assert article.meta.title == "T"
    assert article.occurrences[0].line == 4


def test_unclosed_front_matter_is_plain_markdown() -> None:
    text = "---\ntitle: T\n\n[a](http://x.example/)\n"
    article = parse_article(text, "markdown", "a.md")
    assert article.meta.title is None
    assert [o.url for o in article.occurrences] == ["http://x.example/"]


def test_markdown_title_falls_back_to_first_h1() -> None:
    text = "Intro\n\n## Not this\n\n# The *Real* Title\n\n# Second\n"
    assert parse_article(text, "markdown", "a.md").meta.title == "The Real Title"


HTML_HEAD = """<!doctype html><html><head>
<title>  Page   title | Site </title>
<meta property="og:title" content="The OG title">
<meta property="article:published_time" content="2018-05-26T08:30:00+00:00">
<link rel="canonical" href="https://news.example/2018/story">
</head><body><a href="other">x</a></body></html>"""


def test_html_meta_tags() -> None:
    article = parse_article(HTML_HEAD, "html", "page.html")
    assert article.meta == ArticleMeta(
        title="The OG title",
        published=date(2018, 5, 26),
        source_url="https://news.example/2018/story",
    )
    # the canonical URL is the base of relative links when nothing better is known
    assert article.occurrences[0].url == "https://news.example/2018/other"


def test_html_title_element_when_no_og_title() -> None:
    html = "<html><head><title>Just &amp; title</title></head><body></body></html>"
    assert parse_article(html, "html", "p.html").meta.title == "Just & title"


def test_meta_override_wins_field_by_field() -> None:
    override = ArticleMeta(published=date(2000, 1, 1))
    article = parse_article(HTML_HEAD, "html", "p.html", meta_override=override)
    assert article.meta.published == date(2000, 1, 1)
    assert article.meta.title == "The OG title"


def test_merge_meta_overrides_and_validates() -> None:
    found = ArticleMeta(title="T", published=date(2018, 5, 26), source_url="https://a.example/")
    assert merge_meta(found) == found
    merged = merge_meta(found, published="2020-02-02", source_url="HTTPS://B.example")
    assert merged == ArticleMeta("T", date(2020, 2, 2), "https://b.example/")
    assert merge_meta(found, published=datetime(2021, 1, 2, 3, 4)).published == date(2021, 1, 2)
    assert merge_meta(found, published=date(2022, 1, 1)).published == date(2022, 1, 1)
    with pytest.raises(UsageError, match="invalid published date 'yesterday'"):
        merge_meta(found, published="yesterday")
    with pytest.raises(UsageError, match="invalid source URL 'ftp://x'"):
        merge_meta(found, source_url="ftp://x")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2018-05-26", date(2018, 5, 26)),
        ('"2018-05-26"', date(2018, 5, 26)),
        ("2018-05-26T23:30:00-05:00", date(2018, 5, 26)),
        ("2018/05/26", date(2018, 5, 26)),
        ("26 May 2018", date(2018, 5, 26)),
        ("May 26, 2018", date(2018, 5, 26)),
        ("2018-02-30", None),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_date(raw: str, expected: date | None) -> None:
    assert parse_date(raw) == expected
