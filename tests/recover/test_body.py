"""Main-content link extraction: the article body's links, not the page's boilerplate."""

from __future__ import annotations

from service.articles.body import RawBodyLink, body_links
from tests.recover.pages import FILLER, page

BASE = "https://news.example/2018/05/story"


def texts(links: list[RawBodyLink]) -> list[str]:
    return [link.anchor_text for link in links]


def test_article_links_only_in_order() -> None:
    html = page(
        [("first", "https://a.example/1"), ("second", "/local/2"), ("third", "rel/3")],
        nav=[("Home", "/"), ("first", "https://wrong.example/nav")],
        sidebar=[("Popular story", "/popular")],
        footer=[("second", "https://wrong.example/footer")],
        byline=[("Jane Doe", "/author/jane")],
    )
    links = body_links(html, BASE)
    assert texts(links) == ["Jane Doe", "first", "second", "third"]
    assert [link.position for link in links] == [0, 1, 2, 3]
    assert [link.url for link in links] == [
        "https://news.example/author/jane",
        "https://a.example/1",
        "https://news.example/local/2",
        "https://news.example/2018/05/rel/3",
    ]
    assert links[2].href == "/local/2"  # as written


def test_all_links_switch_returns_every_link() -> None:
    html = page([("first", "https://a.example/1")], nav=[("Home", "/")], footer=[("F", "/f")])
    every = texts(body_links(html, BASE, all_links=True))
    assert every[:3] == ["Example News", "Home", "first"]
    assert {"Home", "first", "Share", "Tweet", "F", "About us", "Privacy"} <= set(every)
    assert "Share" not in texts(body_links(html, BASE))


def test_share_and_related_blocks_inside_the_article_are_skipped() -> None:
    html = (
        "<html><body><article><p>" + FILLER * 4 + '<a href="/in">inside</a></p>'
        '<div class="social-share"><a href="/s">Share on X</a></div>'
        '<section class="related-posts"><a href="/r">Another story</a></section>'
        '<ul role="navigation"><li><a href="/n">Next</a></li></ul>'
        '<footer><a href="/tag">tag</a></footer></article></body></html>'
    )
    assert texts(body_links(html, BASE)) == ["inside"]


def test_page_without_semantic_tags_uses_the_prose_block() -> None:
    html = (
        '<html><body><div id="top"><a href="/">Home</a> <a href="/news">News</a></div>'
        '<div id="wrap"><div id="left"><a href="/x">Links</a> <a href="/y">More</a></div>'
        '<div id="story"><p>' + FILLER * 3 + '<a href="https://t.example/a">a claim</a></p>'
        "<p>" + FILLER * 3 + '<a href="https://t.example/b">a source</a></p></div></div>'
        "</body></html>"
    )
    assert texts(body_links(html, BASE)) == ["a claim", "a source"]


def test_teaser_articles_do_not_win_over_the_story() -> None:
    teaser = '<article class="teaser"><a href="/t">Teaser</a> short</article>'
    html = (
        "<html><body>"
        + teaser * 3
        + '<div class="post-body"><p>'
        + FILLER * 5
        + '<a href="/real">real link</a></p></div></body></html>'
    )
    assert texts(body_links(html, BASE)) == ["real link"]


def test_anchor_text_of_images_and_base_href() -> None:
    html = (
        '<html><head><base href="https://cdn.example/base/"></head><body><article><p>'
        + FILLER * 2
        + '<a href="img"><img src="x.png" alt="A chart"></a> <a href="t" title="Titled"></a>'
        + '<a href="w">  many\n   spaces  <b>bold</b> </a></p></article></body></html>'
    )
    links = body_links(html, BASE)
    assert texts(links) == ["A chart", "Titled", "many spaces bold"]
    assert links[0].url == "https://cdn.example/base/img"


def test_garbage_never_raises() -> None:
    assert body_links("", BASE) == []
    assert body_links("<<<>>>", None) == []
    links = body_links('<a href="rel">x</a>', None)
    assert [(link.href, link.url) for link in links] == [("rel", None)]
    bad = body_links('<p><a href="http://[bad">x</a>' + FILLER + "</p>", BASE)
    assert [(link.href, link.url) for link in bad] == [("http://[bad", None)]


def test_header_of_the_main_content_is_kept() -> None:
    html = (
        '<html><body><header><a href="/">Site</a></header><main><header>By '
        '<a href="/author">The Author</a></header><p>' + FILLER * 4 + '<a href="/x">x</a></p>'
        "</main></body></html>"
    )
    assert texts(body_links(html, BASE)) == ["The Author", "x"]
