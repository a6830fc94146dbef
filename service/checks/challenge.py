"""Bot walls: Cloudflare-style and other JavaScript/CAPTCHA challenge pages. Pure, no I/O.

A challenge page says nothing about the link (a browser would get the page after running a
script or solving a CAPTCHA): it is `blocked`, never dead nor transient. It usually comes as a
403 or 503 (Cloudflare, Sucuri, DataDome, PerimeterX, Akamai, DDoS-Guard), sometimes as a 429
or even a 200. A 403/503 is judged on weaker evidence (a marker in the body, a telltale title
or header) than a 200, which needs a challenge title *and* a marker, so that an article about
bot protection is not mistaken for a wall.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

CHALLENGE_STATUSES = frozenset({403, 429, 503})

# Strings found in challenge pages of the common bot-protection services.
_BODY_MARKERS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"_cf_chl_opt|cf-chl-|/cdn-cgi/challenge-platform/|cf_challenge|cf-browser-verification",
        r"challenges\.cloudflare\.com/turnstile",
        r"checking (?:if the site connection is secure|your browser before accessing)",
        r"enable javascript and cookies to continue",
        r"captcha-delivery\.com|datadome",
        r"px-captcha|_pxhd|perimeterx",
        r"sucuri website firewall|sucuri_cloudproxy",
        r"_incapsula_resource|incapsula incident",
        r"ddos-guard|ddos protection by",
        r"/_sec/cp_challenge/|ak_bmsc|akamai bot manager",
        r"please verify you are (?:a )?human|are you a robot\?|verify you are human",
        r"g-recaptcha|h-captcha|hcaptcha\.com",
    )
)
_TITLES = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^just a moment\.*$",
        r"^attention required!? \| cloudflare$",
        r"^one more step$",
        r"^(?:please wait|checking your browser)\b",
        r"^ddos-guard$",
        r"^access denied$",
        r"^security check\b",
        r"^are you a robot\??$",
        r"^(?:pardon our interruption|human verification|bot verification)\b",
        r"^sucuri website firewall\b",
    )
)


_CHALLENGE_HEADERS = frozenset({"cf-mitigated", "x-datadome", "x-amzn-waf-action"})


def challenge_header(headers: Mapping[str, str] | None) -> bool:
    """Headers that only challenge answers carry (`cf-mitigated: challenge`, DataDome, ...)."""
    if not headers:
        return False
    first: dict[str, str] = {}  # the first value of each header looked at, lower-cased
    for key, value in headers.items():  # one pass: every lookup in httpx's Headers is a scan
        name = key.lower()
        if name in _CHALLENGE_HEADERS and name not in first:
            first[name] = value.lower()
    return (
        first.get("cf-mitigated") == "challenge"
        or first.get("x-datadome", "") != ""
        or "captcha" in first.get("x-amzn-waf-action", "")
    )


def body_marker(body: bytes) -> bool:
    text = body[: 128 * 1024].decode("utf-8", errors="replace")
    return any(p.search(text) for p in _BODY_MARKERS)


def challenge_title(title: str | None) -> bool:
    if not title:
        return False
    text = title.strip()
    return any(p.search(text) for p in _TITLES)


def is_challenge(
    status: int | None,
    title: str | None,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> bool:
    """Whether an answer is a bot wall / challenge page rather than the page itself."""
    if status is None:
        return False
    if challenge_header(headers):
        return True
    if status in CHALLENGE_STATUSES:
        return body_marker(body) or challenge_title(title)
    if 200 <= status < 300:
        return challenge_title(title) and body_marker(body)
    return False
