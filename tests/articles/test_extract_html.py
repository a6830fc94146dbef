"""HTML extraction: every a[href], <base href>, visible anchor text, exact positions."""

from __future__ import annotations

from service.articles.extract import parse_article
from service.articles.extract_html import find_attribute
from service.model import LinkKind
from tests.articles.helpers import assert_spans_round_trip, rewrite

PAGE = """<!DOCTYPE html>
<html>
<head>
  <base href="https://cdn.example/docs/">
  <title>A page</title>
  <script>var s = '<a href="http://script.example/">no</a>';</script>
</head>
<body>
  <p>Read <a href="guide/intro.html#start">the   <em>intro</em>
  guide</a>, <A HREF='HTTP://Upper.Example:80/'>upper</A>,
  <a class="x" href=unquoted.html title="t">unquoted</a>,
  <a href="?q=1&amp;r=2">query</a>,
  <a href="#top">top</a> <a href="#">hash</a> <a href="">empty</a>
  <a href="javascript:void(0)">js</a> <a href="mailto:Ed@Example.COM">mail</a>
  <a href="tel:+1-555-0100">call</a> <a href="ftp://files.example/">ftp</a>
  <a href="http://[broken">broken</a>
  <a href="//proto.example/x"><img src="i.png" alt="image   alt"></a>
  <a name="anchor-only">not a link</a>
  <!-- <a href="http://comment.example/">commented out</a> -->
  <a href = "spaced.html" >spaced</a>
  <a href="http://ünicode.example/ü">unicode</a>
  </p>
</body>
</html>
"""


def test_every_a_href_with_kind_url_text_and_line() -> None:
    article = parse_article(PAGE, "html", "page.html")
    assert_spans_round_trip(PAGE, article)
    assert article.base_url == "https://cdn.example/docs/"
    got = [(o.href, o.anchor_text, o.kind, o.url, o.fragment, o.line) for o in article.occurrences]
    H, P, F = LinkKind.HTTP, LinkKind.PLACEHOLDER, LinkKind.FRAGMENT
    assert got == [
        (
            "guide/intro.html#start",
            "the intro guide",
            H,
            "https://cdn.example/docs/guide/intro.html",
            "#start",
            9,
        ),
        ("HTTP://Upper.Example:80/", "upper", H, "http://upper.example/", None, 10),
        ("unquoted.html", "unquoted", H, "https://cdn.example/docs/unquoted.html", None, 11),
        ("?q=1&amp;r=2", "query", H, "https://cdn.example/docs/?q=1&r=2", None, 12),
        ("#top", "top", F, None, "#top", 13),
        ("#", "hash", P, None, None, 13),
        ("", "empty", P, None, None, 13),
        ("javascript:void(0)", "js", P, None, None, 14),
        ("mailto:Ed@Example.COM", "mail", LinkKind.MAILTO, "mailto:Ed@example.com", None, 14),
        ("tel:+1-555-0100", "call", LinkKind.TEL, "tel:+15550100", None, 15),
        ("ftp://files.example/", "ftp", LinkKind.UNSUPPORTED, None, None, 15),
        ("http://[broken", "broken", LinkKind.INVALID, None, None, 16),
        ("//proto.example/x", "image alt", H, "https://proto.example/x", None, 17),
        ("spaced.html", "spaced", H, "https://cdn.example/docs/spaced.html", None, 20),
        (
            "http://ünicode.example/ü",
            "unicode",
            H,
            "http://xn--nicode-2ya.example/%C3%BC",
            None,
            21,
        ),
    ]


def test_base_href_is_resolved_against_the_document_url() -> None:
    html = '<base href="/root/"><a href="page">p</a>'
    article = parse_article(html, "html", "x", base_url="https://site.example/a/b.html")
    assert article.occurrences[0].url == "https://site.example/root/page"
    alone = parse_article('<a href="page">p</a>', "html", "x", base_url="https://s.example/a/")
    assert alone.occurrences[0].url == "https://s.example/a/page"
    nothing = parse_article('<base href="/only/path/"><a href="page">p</a>', "html", "x")
    assert nothing.occurrences[0].kind is LinkKind.RELATIVE


def test_first_base_counts_even_after_links() -> None:
    html = '<a href="a">a</a><base href="http://one.example/"><base href="http://two.example/">'
    article = parse_article(html, "html", "x")
    assert article.occurrences[0].url == "http://one.example/a"


def test_unclosed_and_nested_anchors() -> None:
    html = "<p><a href='/one'>one <a href='/two'>two</p><a href=three>three"
    article = parse_article(html, "html", "x", base_url="http://s.example/")
    assert_spans_round_trip(html, article)
    assert [(o.href, o.anchor_text) for o in article.occurrences] == [
        ("/one", "one"),
        ("/two", "two"),
        ("three", "three"),
    ]


def test_valueless_href_is_a_placeholder_without_span() -> None:
    article = parse_article("<a href>x</a>", "html", "x")
    [occurrence] = article.occurrences
    assert (occurrence.kind, occurrence.href, occurrence.href_span) == (
        LinkKind.PLACEHOLDER,
        "",
        None,
    )


def test_crlf_lines_and_rewrite_in_place() -> None:
    html = '<p>\r\n<a href="http://a.example/">a</a>\r\n<a\r\n  href="http://b.example/">b</a></p>'
    article = parse_article(html, "html", "x")
    assert_spans_round_trip(html, article)
    assert [o.line for o in article.occurrences] == [2, 3]
    fixed = rewrite(html, article, "https://web.archive.org/web/2018/x")
    assert fixed == html.replace("http://a.example/", "https://web.archive.org/web/2018/x").replace(
        "http://b.example/", "https://web.archive.org/web/2018/x"
    )


def test_find_attribute() -> None:
    tag = "<a data-href='no' HREF = \"yes\" href='second'>"
    found = find_attribute(tag, "href")
    assert found is not None and found.value == "yes"
    assert tag[found.start : found.end] == "yes"
    assert find_attribute("<a name=x>", "href") is None
    bare = find_attribute("<a href>", "href")
    assert bare is not None and bare.value is None


def test_identical_tags_get_their_own_spans() -> None:
    html = "</a></title><a href=</a><a href=</a>\n<p><a href='#'>1</a><a href='#'>2</a>"
    article = parse_article(html, "html", "x")
    assert_spans_round_trip(html, article)
    spans = [o.href_span for o in article.occurrences]
    first_hash, second_hash = html.index("'#'>1") + 1, html.index("'#'>2") + 1
    assert spans == [
        (20, 23),
        (32, 35),
        (first_hash, first_hash + 1),
        (second_hash, second_hash + 1),
    ]
