"""URL normalisation: one spelling per target, invalid URLs refused with a reason."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.articles.normalize import host_of, normalize_url, split_fragment

CANONICAL = [
    # case of scheme and host; path case kept
    ("HTTP://Example.COM/Path", "http://example.com/Path"),
    ("HtTpS://WWW.Example.org", "https://www.example.org/"),
    # default ports dropped, others kept, empty port dropped
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:443/a", "http://example.com:443/a"),
    ("https://example.com:8443", "https://example.com:8443/"),
    ("http://example.com:/x", "http://example.com/x"),
    ("http://example.com:0080/", "http://example.com/"),
    # empty path, fragment removed, bare "?" dropped
    ("http://example.com", "http://example.com/"),
    ("http://example.com/a#section", "http://example.com/a"),
    ("http://example.com/?#", "http://example.com/"),
    # IDNA
    ("http://Bücher.example/", "http://xn--bcher-kva.example/"),
    ("https://☃.net", "https://xn--n3h.net/"),
    ("http://例え.テスト/", "http://xn--r8jz45g.xn--zckzah/"),
    ("http://xn--bcher-kva.example", "http://xn--bcher-kva.example/"),
    ("http://BÜCHER。example/", "http://xn--bcher-kva.example/"),
    ("http://%65xample.com/", "http://example.com/"),
    # percent-encoding: hex upper-cased, unreserved decoded, unsafe encoded
    ("http://example.com/%7euser", "http://example.com/~user"),
    ("http://example.com/%41%2d%5f%2E", "http://example.com/A-_."),
    ("http://example.com/a%2fb%3a", "http://example.com/a%2Fb%3A"),
    ("http://example.com/a b", "http://example.com/a%20b"),
    ("http://example.com/100%", "http://example.com/100%25"),
    ("http://example.com/%zz", "http://example.com/%25zz"),
    ("http://example.com/ä", "http://example.com/%C3%A4"),
    ("http://example.com/?q=ü&x=a b", "http://example.com/?q=%C3%BC&x=a%20b"),
    ("http://example.com/?q=%e2%82%ac", "http://example.com/?q=%E2%82%AC"),
    ('http://example.com/"<>^`{|}', "http://example.com/%22%3C%3E%5E%60%7B%7C%7D"),
    ("http://example.com/a?b=c/d?e", "http://example.com/a?b=c/d?e"),
    ("http://example.com/;a=1,b!$&'()*+", "http://example.com/;a=1,b!$&'()*+"),
    # dot segments, backslashes, whitespace
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("http://example.com/../a", "http://example.com/a"),
    ("http://example.com/a/b/..", "http://example.com/a/"),
    ("http://example.com\\a\\b", "http://example.com/a/b"),
    ("  http://example.com/a\n\tb  ", "http://example.com/ab"),
    # IP literals, user info
    ("http://[2001:DB8:0::1]:80/", "http://[2001:db8::1]/"),
    ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ("http://127.0.0.1:80", "http://127.0.0.1/"),
    ("http://user:p%41ss@Example.com/", "http://user:pAss@example.com/"),
    ("http://example.com./", "http://example.com./"),
    ("http://my_host.example/", "http://my_host.example/"),
]


@pytest.mark.parametrize(("raw", "expected"), CANONICAL)
def test_normalize_url_canonical_form(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), CANONICAL)
def test_normalize_url_is_idempotent(raw: str, expected: str) -> None:
    assert normalize_url(expected) == expected


INVALID = [
    ("", "empty URL"),
    ("   ", "empty URL"),
    ("http://", "empty host"),
    ("http:///path", "empty host"),
    ("http://@/", "empty host"),
    ("http:example.com", "missing host"),
    ("ftp://example.com/", "not an http(s) URL"),
    ("example.com/x", "not an http(s) URL"),
    ("http://[bad", "IPv6"),
    ("http://[::1/", "IPv6"),
    ("http://[zz::1]/", "IPv6"),
    ("https://exa mple.com", "bad host"),
    ("http://exa<mple.com/", "bad host"),
    ("http://a..b/", "bad host"),
    ("http://" + "a" * 64 + ".com/", "bad host"),
    ("http://example.com:99999/", "bad port"),
    ("http://example.com:abc/", "bad port"),
    ("http://example.com:-1/", "bad port"),
    ("http://example.com:８０/", "bad port"),
]


@pytest.mark.parametrize(("raw", "reason"), INVALID)
def test_normalize_url_refuses_invalid_urls_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        normalize_url(raw)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://x/a#b", ("http://x/a", "#b")),
        ("http://x/a#b#c", ("http://x/a", "#b#c")),
        ("http://x/a#", ("http://x/a", None)),
        ("http://x/a", ("http://x/a", None)),
        ("#top", ("", "#top")),
    ],
)
def test_split_fragment(url: str, expected: tuple[str, str | None]) -> None:
    assert split_fragment(url) == expected


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("HTTPS://Bücher.Example:8443/x", "xn--bcher-kva.example"),
        ("http://[::1]:8080/", "::1"),
        ("http://user@Example.com/", "example.com"),
        ("http://127.0.0.2:81", "127.0.0.2"),
    ],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


def test_host_of_invalid_url_raises_value_error() -> None:
    with pytest.raises(ValueError):
        host_of("http://")


_host = st.from_regex(r"[A-Za-z0-9]{1,10}(\.[A-Za-zäöü0-9]{1,8}){0,3}", fullmatch=True)
_path = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="#\t\n\r"), max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP"]),
    host=_host,
    port=st.one_of(st.none(), st.integers(0, 65535)),
    path=_path,
)
def test_normalisation_is_idempotent_and_never_fails_unexpectedly(
    scheme: str, host: str, port: int | None, path: str
) -> None:
    url = f"{scheme}://{host}" + (f":{port}" if port is not None else "") + "/" + path
    try:
        once = normalize_url(url)
    except ValueError:
        return  # refused with a reason: fine
    assert normalize_url(once) == once
    assert once.startswith(scheme.lower() + "://")
    assert " " not in once and "#" not in once
