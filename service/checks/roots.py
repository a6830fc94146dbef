"""`redirect_to_root`: a deep link whose redirects end at the site's home or login page. Pure.

Sites that delete a page often redirect it (and every unknown path) to their home page, which
answers 200: a status-only checker calls that alive. The rule (the README):

- the link is deep (its path is not the site's root or an index/locale home page);
- its redirect chain ends somewhere else than the link itself (trivial redirects, i.e.
  http->https, `www.`, a trailing slash, stay `ok`: see `classify.same_page`);
- and the end is the home page of the link's host or of its registrable domain (scheme,
  `www.` and a trailing slash ignored; `/index.html`, `/en/` count as home pages), or a login
  page on any host.

Registrable domains come from tldextract built with `suffix_list_urls=()`: it uses the Public
Suffix List snapshot it ships and never downloads. The special-use names of RFC 2606/6761
(`.test`, `.example`, `.invalid`, `.localhost`) count as public suffixes.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import tldextract

from service.checks.urls import same_page

_SPECIAL_SUFFIXES = ("test", "example", "invalid", "localhost", "local")
# Language codes that sites use as home pages (`/en/`, `/de-at/`).
_LANGUAGES = (
    "ar|bg|ca|cs|da|de|el|en|es|et|fa|fi|fr|he|hi|hr|hu|id|it|ja|ko|lt|lv|ms|nb|nl|no|pl|pt|"
    "ro|ru|sk|sl|sr|sv|th|tr|uk|vi|zh"
)
_HOME_PATH = re.compile(
    r"^/?(?:(?:index|default|home)(?:\.(?:html?|php|aspx?|jsp))?"
    rf"|(?:{_LANGUAGES})(?:[-_][a-zA-Z]{{2,4}})?"
    r"|start|welcome)?/?$",
    re.IGNORECASE,
)
_LOGIN_PATH = re.compile(
    r"(?:^|/)(?:log[-_]?in|sign[-_]?in|signon|sso|auth(?:enticate)?|session/new|"
    r"wp-login\.php|servicelogin|account/login|users/sign_in|cas/login|oauth2?/authorize)"
    r"(?:$|[/.?;])",
    re.IGNORECASE,
)
_LOGIN_HOST = re.compile(r"^(?:login|signin|sso|auth|accounts?|id)\.", re.IGNORECASE)


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    import tldextract  # (and requests): imported on the first redirect judged, not at start-up

    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, extra_suffixes=_SPECIAL_SUFFIXES
    )


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """`news.example.co.uk` -> `example.co.uk`; a host with no known suffix is its own domain."""
    name = host.lower().rstrip(".")
    parts = _extractor()(name)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    return name


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".").removeprefix("www.")


def is_home_path(path: str) -> bool:
    """`/`, ``, `/index.html`, `/home`, `/en/`, `/en-us`: the paths of a site's home page."""
    return bool(_HOME_PATH.match(path))


def is_deep(url: str) -> bool:
    """Whether a URL names something below the home page (its path is not a home path)."""
    return not is_home_path(urlsplit(url).path)


def is_login_url(url: str) -> bool:
    """Whether a URL looks like a login page (`/login`, `/signin`, `accounts.` hosts ...)."""
    parts = urlsplit(url)
    if _LOGIN_PATH.search(parts.path):
        return True
    host = (parts.hostname or "").lower()
    return bool(_LOGIN_HOST.match(host)) and parts.path.strip("/") != ""


def is_home_of(url: str, final_url: str) -> bool:
    """Whether `final_url` is the home page of `url`'s host or registrable domain."""
    final = urlsplit(final_url)
    if not is_home_path(final.path):
        return False
    link_host, final_host = _host(url), _host(final_url)
    if not link_host or not final_host:
        return False
    return link_host == final_host or registrable_domain(link_host) == registrable_domain(
        final_host
    )


def redirect_to_root(url: str, final_url: str | None, redirected: bool) -> bool:
    """Whether a 2xx answer reached through redirects is really the home or a login page.

    `redirected` says whether the chain had at least one redirect.
    """
    if not redirected or not final_url or same_page(url, final_url):
        return False
    if not is_deep(url):
        return False
    if is_login_url(final_url) and not is_login_url(url):
        return True
    return is_home_of(url, final_url)
