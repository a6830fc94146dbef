"""Archive-rewritten hrefs unwrapped, and the original's links as recovery candidates."""

from __future__ import annotations

import pytest

from service.archive.recover import archive_hosts, original_links, prefix_for, unwrap_archived
from tests.recover.pages import page

HOSTS = archive_hosts("http://127.0.0.1:8999")


@pytest.mark.parametrize(
    ("href", "original"),
    [
        ("/web/20180526120000/https://example.org/a?b=1#c", "https://example.org/a?b=1#c"),
        ("/web/20180526120000im_/https://example.org/i.png", "https://example.org/i.png"),
        ("https://web.archive.org/web/20180526120000im_/https://x.org/p", "https://x.org/p"),
        ("http://web.archive.org/web/2018/http://x.org/", "http://x.org/"),
        ("//web.archive.org/web/20180526120000/https://x.org/p", "https://x.org/p"),
        ("http://127.0.0.1:8999/web/20180526120000id_/https://x.org/p", "https://x.org/p"),
        ("/web/20180526120000/https:/x.org/collapsed", "https://x.org/collapsed"),
        ("/web/20180526120000/www.x.org/noscheme", "http://www.x.org/noscheme"),
        ("/web/20180526120000/mailto:me@x.org", "mailto:me@x.org"),
        (
            "https://web.archive.org/web/2019/https://web.archive.org/web/2018/https://x.org/t",
            "https://x.org/t",
        ),
    ],
)
def test_unwrap(href: str, original: str) -> None:
    assert unwrap_archived(href, HOSTS) == original


@pytest.mark.parametrize(
    "href",
    [
        "https://example.org/web/20180526120000/https://x.org/p",  # not an archive host
        "https://x.org/a",
        "/web/latest/https://x.org/",
        "#top",
        "",
    ],
)
def test_not_wrapped(href: str) -> None:
    assert unwrap_archived(href, HOSTS) is None


def test_original_links_unwrap_resolve_and_drop() -> None:
    html = page(
        [
            ("wrapped", "/web/20180526120000/https://example.org/1"),
            (
                "image wrapped",
                "https://web.archive.org/web/20180526120000im_/https://example.org/2",
            ),
            ("relative", "/2018/other-story"),
            ("footnote", "#fn1"),
            ("script", "javascript:void(0)"),
            ("mail", "mailto:desk@example.org"),
        ],
        nav=[("nav", "/web/20180526120000/https://example.org/nav")],
    )
    links = original_links(html, "https://news.example/2018/story", "https://web.archive.org")
    assert [(link.anchor_text, link.url) for link in links] == [
        ("wrapped", "https://example.org/1"),
        ("image wrapped", "https://example.org/2"),
        ("relative", "https://news.example/2018/other-story"),
        ("mail", "mailto:desk@example.org"),
    ]


def test_prefix_for() -> None:
    assert prefix_for("https://www.x.org/slug/") == "https://www.x.org/slug/"
    assert prefix_for("https://www.x.org/slug?utm=1") == "https://www.x.org/slug/"
