"""Link kinds (DESIGN.md) decided from the href and the base URL alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.articles.kinds import classify_href
from service.model import LinkKind

BASE = "https://blog.example/posts/2018/article.html"

H, M, T, P = LinkKind.HTTP, LinkKind.MAILTO, LinkKind.TEL, LinkKind.PLACEHOLDER
F, R, U, BAD = LinkKind.FRAGMENT, LinkKind.RELATIVE, LinkKind.UNSUPPORTED, LinkKind.INVALID

WITHOUT_BASE = [
    ("http://Example.com/a#b", (H, "http://example.com/a", "#b")),
    ("HTTPS://example.com", (H, "https://example.com/", None)),
    ("  https://example.com/x  ", (H, "https://example.com/x", None)),
    ("//cdn.example/lib.js", (H, "https://cdn.example/lib.js", None)),
    ("#", (P, None, None)),
    ("", (P, None, None)),
    ("   \n ", (P, None, None)),
    ("javascript:void(0)", (P, None, None)),
    ("JavaScript:alert(1)", (P, None, None)),
    ("#section-2", (F, None, "#section-2")),
    ("mailto:Someone@Example.COM", (M, "mailto:Someone@example.com", None)),
    ("mailto:a@X.org?subject=Hi", (M, "mailto:a@x.org", None)),
    ("MAILTO:a%40b@C.org", (M, "mailto:a@b@c.org", None)),
    ("tel:+1 (555) 010-0199", (T, "tel:+15550100199", None)),
    ("tel:+44.20.7946.0958", (T, "tel:+442079460958", None)),
    ("page.html", (R, None, None)),
    ("../other/page.html#top", (R, None, "#top")),
    ("/absolute/path", (R, None, None)),
    ("?q=1", (R, None, None)),
    ("ftp://files.example/x", (U, None, None)),
    ("data:text/plain,hello", (U, None, None)),
    ("file:///etc/passwd", (U, None, None)),
    ("irc://irc.example/chan", (U, None, None)),
    ("http://[bad", (BAD, None, None)),
    ("http://", (BAD, None, None)),
    ("https://exa mple.com", (BAD, None, None)),
    ("http://example.com:99999/", (BAD, None, None)),
    ("http://example.com:port/", (BAD, None, None)),
    ("http:no-slashes", (BAD, None, None)),
    ("mailto:", (BAD, None, None)),
    ("tel:", (BAD, None, None)),
    ("tel:call-me", (T, "tel:callme", None)),
]


@pytest.mark.parametrize(("href", "expected"), WITHOUT_BASE)
def test_classify_without_base(
    href: str, expected: tuple[LinkKind, str | None, str | None]
) -> None:
    assert classify_href(href, None) == expected


WITH_BASE = [
    ("page2.html", (H, "https://blog.example/posts/2018/page2.html", None)),
    ("../2017/old.html#x", (H, "https://blog.example/posts/2017/old.html", "#x")),
    ("/about", (H, "https://blog.example/about", None)),
    ("?page=2", (H, "https://blog.example/posts/2018/article.html?page=2", None)),
    ("//cdn.example/x", (H, "https://cdn.example/x", None)),
    ("a b.html", (H, "https://blog.example/posts/2018/a%20b.html", None)),
    # a fragment of the same article stays a fragment; "#" stays a placeholder
    ("#notes", (F, None, "#notes")),
    ("#", (P, None, None)),
    ("http://other.example/", (H, "http://other.example/", None)),
]


@pytest.mark.parametrize(("href", "expected"), WITH_BASE)
def test_classify_relative_refs_resolved_against_base(
    href: str, expected: tuple[LinkKind, str | None, str | None]
) -> None:
    assert classify_href(href, BASE) == expected


def test_protocol_relative_takes_the_base_scheme() -> None:
    assert classify_href("//cdn.example/x", "http://blog.example/")[1] == "http://cdn.example/x"


def test_unusable_base_leaves_relative_links_relative() -> None:
    assert classify_href("page.html", "file:///home/me/post.md")[0] is LinkKind.RELATIVE
    assert classify_href("page.html", "not a url")[0] is LinkKind.RELATIVE


@given(st.text(max_size=80), st.one_of(st.none(), st.just(BASE), st.text(max_size=30)))
def test_classify_never_raises_and_is_consistent(href: str, base: str | None) -> None:
    kind, url, fragment = classify_href(href, base)
    assert isinstance(kind, LinkKind)
    if kind in (LinkKind.HTTP, LinkKind.MAILTO, LinkKind.TEL):
        assert url is not None
    else:
        assert url is None
    if kind is LinkKind.HTTP:
        assert url is not None and url.startswith(("http://", "https://")) and "#" not in url
    if fragment is not None:
        assert fragment.startswith("#") and len(fragment) > 1
