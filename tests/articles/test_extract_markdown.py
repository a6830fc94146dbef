"""Markdown extraction: every construct that is a link, none that is not, exact positions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from service.articles.extract import parse_article
from service.model import LinkKind, Occurrence
from tests.articles.helpers import assert_spans_round_trip, rewrite

SEED = Path(__file__).resolve().parents[2] / "config" / "articles" / "us-intransigence-trump-kim.md"


def links(text: str, base_url: str | None = None) -> list[Occurrence]:
    article = parse_article(text, "markdown", "test.md", base_url=base_url)
    assert_spans_round_trip(text, article)
    assert [o.position for o in article.occurrences] == list(range(len(article.occurrences)))
    return list(article.occurrences)


def hrefs(text: str) -> list[str]:
    return [o.href for o in links(text)]


# -- the seed article ---------------------------------------------------------------------------


def test_seed_article_has_exactly_55_occurrences() -> None:
    text = SEED.read_text(encoding="utf-8")
    article = parse_article(text, "markdown", str(SEED))
    assert len(article.occurrences) == 55
    assert Counter(o.kind for o in article.occurrences) == {
        LinkKind.PLACEHOLDER: 52,
        LinkKind.MAILTO: 2,
        LinkKind.HTTP: 1,
    }
    assert article.meta.title == (
        "US Intransigence Scuttled the Trump-Kim Negotiations, Not North Korea"
    )
    assert str(article.meta.published) == "2018-05-26"
    assert article.meta.source_url is not None
    assert article.meta.source_url.startswith("https://www.globalresearch.ca/")
    assert_spans_round_trip(text, article)
    http = [o for o in article.occurrences if o.kind is LinkKind.HTTP]
    assert [(o.href, o.url, o.anchor_text) for o in http] == [
        ("http://www.globalresearch.ca", "http://www.globalresearch.ca/", "www.globalresearch.ca")
    ]
    mailto = {o.url for o in article.occurrences if o.kind is LinkKind.MAILTO}
    assert mailto == {"mailto:publications@globalresearch.ca"}
    first = article.occurrences[0]
    assert (first.href, first.anchor_text, first.line) == ("#", "Steven Chovanec", 10)
    lines = text.splitlines()
    for occurrence in article.occurrences:
        assert occurrence.href in lines[occurrence.line - 1]


def test_seed_article_with_crlf_line_ends_gives_the_same_links() -> None:
    text = SEED.read_text(encoding="utf-8").replace("\n", "\r\n")
    lf = parse_article(SEED.read_text(encoding="utf-8"), "markdown", "lf")
    crlf = parse_article(text, "markdown", "crlf")
    assert_spans_round_trip(text, crlf)
    assert [(o.href, o.line, o.kind, o.anchor_text) for o in crlf.occurrences] == [
        (o.href, o.line, o.kind, o.anchor_text) for o in lf.occurrences
    ]


def test_rewriting_every_seed_span_leaves_the_rest_byte_identical() -> None:
    text = SEED.read_text(encoding="utf-8")
    article = parse_article(text, "markdown", "seed")
    fixed = rewrite(text, article, "https://web.archive.org/x")
    assert fixed.count("https://web.archive.org/x") == 55
    assert fixed.replace("https://web.archive.org/x", "\0") == rewrite(text, article, "\0")
    again = parse_article(fixed, "markdown", "seed")
    assert [o.anchor_text for o in again.occurrences] == [
        o.anchor_text for o in article.occurrences
    ]
    assert {o.url for o in again.occurrences} == {"https://web.archive.org/x"}


# -- constructs ---------------------------------------------------------------------------------


def test_inline_links_with_titles_and_angle_destinations() -> None:
    text = '[a](http://a.example/ "title") [b](<http://b.example/x y>) [c]( http://c.example/ )'
    found = links(text)
    assert [o.href for o in found] == [
        "http://a.example/",
        "http://b.example/x y",
        "http://c.example/",
    ]
    assert found[1].url == "http://b.example/x%20y"
    assert [o.anchor_text for o in found] == ["a", "b", "c"]


def test_reference_links_point_at_the_definition_destination() -> None:
    text = (
        "Full [one][r1], collapsed [Two][], shortcut [three], case [ONE][R1].\n"
        "\n"
        "[r1]: http://one.example/  'Title'\n"
        "[two]:\n"
        "   <http://two.example/>\n"
        '  [three]: /rel "t"\n'
        "[r1]: http://ignored-duplicate.example/\n"
    )
    found = links(text, base_url="https://site.example/blog/")
    assert [o.href for o in found] == [
        "http://one.example/",
        "http://two.example/",
        "/rel",
        "http://one.example/",
    ]
    assert [o.line for o in found] == [1, 1, 1, 1]
    assert found[0].href_span == found[3].href_span  # the same definition
    assert text.index("http://one.example/") == found[0].href_span[0]  # type: ignore[index]
    assert found[2].url == "https://site.example/rel"
    assert [o.anchor_text for o in found] == ["one", "Two", "three", "ONE"]


def test_reference_definition_inside_blockquote_and_undefined_refs() -> None:
    text = "> [x][d] and [not defined][nope] and [plain text]\n>\n> [d]: http://d.example/\n"
    found = links(text)
    assert [o.href for o in found] == ["http://d.example/"]
    assert found[0].href_span is not None
    assert found[0].href_span[0] == text.index("http://d.example/")


def test_autolinks_uri_and_email() -> None:
    found = links("See <https://Auto.example/p?q=1> or <Someone@Mail.Example>.")
    assert [(o.href, o.kind, o.url) for o in found] == [
        ("https://Auto.example/p?q=1", LinkKind.HTTP, "https://auto.example/p?q=1"),
        ("Someone@Mail.Example", LinkKind.MAILTO, "mailto:Someone@mail.example"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("visit https://bare.example/path now", ["https://bare.example/path"]),
        ("visit http://bare.example/a.", ["http://bare.example/a"]),
        ("(see https://bare.example/wiki/A_(b))", ["https://bare.example/wiki/A_(b)"]),
        ("(see https://bare.example/x)", ["https://bare.example/x"]),
        ("go to www.bare.example, then", ["www.bare.example"]),
        ("*http://emph.example/x*", ["http://emph.example/x"]),
        ("**https://strong.example**!", ["https://strong.example"]),
        ("x http://amp.example/?a=1&amp; y", ["http://amp.example/?a=1"]),
        ("line one\nhttps://second.example/", ["https://second.example/"]),
        ("nohttp://glued.example/ nowww.glued.example", []),
        ("www.x alone", []),
        ("a https:// b", []),
    ],
)
def test_bare_urls_in_text(text: str, expected: list[str]) -> None:
    assert hrefs(text) == expected


def test_bare_www_url_is_http() -> None:
    [found] = links("at www.example.org/page.")
    assert (found.href, found.url, found.kind) == (
        "www.example.org/page",
        "http://www.example.org/page",
        LinkKind.HTTP,
    )


def test_url_in_link_text_is_not_a_second_link() -> None:
    found = links("[https://label.example](https://target.example/) and [see www.x.example](#)")
    assert [o.href for o in found] == ["https://target.example/", "#"]
    assert found[0].anchor_text == "https://label.example"


def test_images_are_not_links_but_a_linked_image_is() -> None:
    text = "![alt](http://img.example/a.png) [![logo alt](http://img.example/b.png)](http://home.example/)"
    found = links(text)
    assert [(o.href, o.anchor_text) for o in found] == [("http://home.example/", "logo alt")]


def test_code_spans_and_blocks_are_not_links() -> None:
    text = (
        "`[a](http://code.example/)` and ``<http://code2.example/>`` and `http://code3.example`\n"
        "\n"
        "    [indented](http://code4.example/)\n"
        "\n"
        "```md\n"
        "[fenced](http://code5.example/) https://code6.example/\n"
        "```\n"
        "\n"
        "~~~\n"
        "<a href='http://code7.example/'>x</a>\n"
        "~~~\n"
        "\n"
        "[real](http://real.example/)\n"
    )
    assert hrefs(text) == ["http://real.example/"]


def test_html_in_markdown_inline_and_blocks() -> None:
    text = (
        'Inline <a href="http://inline.example/?a=1&amp;b=2" class=x>in <b>bold</b></a> end.\n'
        "\n"
        '<div class="box">\n'
        "  <p><A HREF='http://block.example/'>block\n"
        "  link</A> and <a href=relative.html>rel</a></p>\n"
        "</div>\n"
        "\n"
        '<!-- <a href="http://comment.example/">not a link</a> -->\n'
    )
    found = links(text, base_url="https://site.example/dir/")
    assert [(o.href, o.anchor_text, o.line) for o in found] == [
        ("http://inline.example/?a=1&amp;b=2", "in bold", 1),
        ("http://block.example/", "block link", 4),
        ("relative.html", "rel", 5),
    ]
    assert found[0].url == "http://inline.example/?a=1&b=2"
    assert found[2].url == "https://site.example/dir/relative.html"


def test_emphasis_escapes_and_nesting() -> None:
    text = (
        "\\*not emphasis\\* **[bold](#)** *[em](#a)* ***[both](#b)*** _[u](#)_\n"
        "\\[not a link](http://no.example/) [esc\\]aped](http://yes.example/a\\_b)\n"
    )
    found = links(text)
    assert [(o.href, o.anchor_text, o.kind) for o in found] == [
        ("#", "bold", LinkKind.PLACEHOLDER),
        ("#a", "em", LinkKind.FRAGMENT),
        ("#b", "both", LinkKind.FRAGMENT),
        ("#", "u", LinkKind.PLACEHOLDER),
        # the escaped "[" is no link, but its URL is a bare URL (as on GitHub)
        ("http://no.example/", "http://no.example/", LinkKind.HTTP),
        ("http://yes.example/a\\_b", "esc]aped", LinkKind.HTTP),
    ]
    assert found[-1].url == "http://yes.example/a_b"


def test_empty_and_javascript_hrefs_are_placeholders_with_exact_spans() -> None:
    text = "[empty]() [spaces]( ) [angle](<>) [js](javascript:void(0))"
    found = links(text)
    assert [o.kind for o in found] == [LinkKind.PLACEHOLDER] * 4
    assert [o.href for o in found] == ["", "", "", "javascript:void(0)"]
    assert found[0].href_span == (len("[empty]("),) * 2
    assert found[2].href_span == (text.index("<>") + 1,) * 2


def test_line_numbers_lists_quotes_headings_and_tables() -> None:
    text = (
        "# Heading [h](#h) #\n"
        "\n"
        "- item [one](#1)\n"
        "  continued [two](#2)\n"
        "  1. nested [three](#3)\n"
        "\n"
        "> quote\n"
        "> > deeper [four](#4)\n"
        "\n"
        "| c1 | c2 |\n"
        "|----|----|\n"
        "| [five](#5) | [six](#5) |\n"
        "\n"
        "Setext [seven](#7)\n"
        "===\n"
        "\ttabbed para\n"
        "[multi\n"
        "line](#8)\n"
    )
    found = links(text)
    assert [(o.href, o.line) for o in found] == [
        ("#h", 1),
        ("#1", 3),
        ("#2", 4),
        ("#3", 5),
        ("#4", 8),
        ("#5", 12),
        ("#5", 12),
        ("#7", 14),
        ("#8", 17),
    ]
    assert found[5].href_span != found[6].href_span
    assert found[-1].anchor_text == "multi line"


def test_relative_links_resolve_against_base_url_or_source_url() -> None:
    text = "---\nsource_url: https://orig.example/a/post.html\n---\n[r](../img/x.html) [f](#frag)\n"
    article = parse_article(text, "markdown", "p.md")
    assert [o.url for o in article.occurrences] == ["https://orig.example/img/x.html", None]
    assert article.base_url == "https://orig.example/a/post.html"
    explicit = parse_article(text, "markdown", "p.md", base_url="http://mirror.example/b/")
    assert explicit.occurrences[0].url == "http://mirror.example/img/x.html"
    bare = parse_article("[r](../img/x.html)", "markdown", "p.md")
    assert bare.occurrences[0].kind is LinkKind.RELATIVE
    assert bare.base_url is None


def test_nul_characters_are_kept_as_written() -> None:
    text = "[a](http://x.example/\x00y)"
    [found] = links(text)
    assert found.href == "http://x.example/\x00y"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown article format"):
        parse_article("", "rst", "x.rst")
