"""The zoo: whole web sites with the behaviours a link checker meets, each with its verdict.

Every site is a host name pinned to the link farm (`LinkFarm.add_host`); `install(farm)` adds
them all (before the farm starts, so the TLS certificate names them). `ZOO` lists the labelled
cases: (label, host, path, expected outcome). Hostile servers and failures that are not
sites (refused port, not-HTTP, DNS) are in `special_cases(farm)`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from service.model import Outcome
from tests.support.farm import LinkFarm

Site = Callable[[web.Request, LinkFarm], Awaitable[web.StreamResponse]]

_NAV = " ".join(
    f"<a href='/section/{w}'>{w.title()}</a>"
    for w in (
        "home news world politics business technology science health sport culture travel "
        "food style opinion video podcasts newsletters weather archive about contact jobs "
        "advertise subscribe login help accessibility privacy terms cookies sitemap"
    ).split()
)
_FOOTER = (
    "<footer><p>Copyright 2024 Example Media Group. All rights reserved. Reproduction in whole "
    "or in part without permission is prohibited. Our journalism is funded by readers like you; "
    "support independent reporting today. Follow us on every network you like and sign up for "
    "the morning briefing, delivered to your inbox before breakfast.</p></footer>"
)
_WORDS = (
    "river mountain quantum garden library harbor engine violin desert glacier lantern "
    "meadow orbit pepper quartz saddle tunnel velvet walnut yeast zephyr anchor basalt "
    "canyon dahlia ember falcon granite hazel iris jasper kelp lotus marble nectar onyx "
    "prairie quill raven sequoia thistle umber valley willow xenon yarrow zinnia acorn "
    "bramble cobalt drizzle estuary fjord geyser heron inlet juniper kestrel lagoon"
).split()


def article_text(seed: str, words: int = 160) -> str:
    """Deterministic prose, different for every seed (pages of different articles differ)."""
    digest = b""
    out: list[str] = []
    counter = 0
    while len(out) < words:
        digest = hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        out.extend(_WORDS[b % len(_WORDS)] + str(b % 7) for b in digest)
        counter += 1
    return " ".join(out[:words])


def html(
    title: str,
    main: str,
    *,
    status: int = 200,
    canonical: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    canon = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = (
        f"<!doctype html><html><head><title>{title}</title>{canon}</head><body>"
        f"<nav>{_NAV}</nav><main>{main}</main>{_FOOTER}</body></html>"
    )
    return web.Response(text=body, status=status, content_type="text/html", headers=headers)


def article(slug: str, **kw: object) -> web.Response:
    return html(f"{slug.replace('-', ' ').title()} | Example", f"<p>{article_text(slug)}</p>", **kw)  # type: ignore[arg-type]


def not_found_page(status: int = 404) -> web.Response:
    return html("Page not found", "<p>We could not find that page.</p>", status=status)


def home() -> web.Response:
    return html("Welcome | Example", f"<p>{article_text('home page')}</p>")


def here(request: web.Request, farm: LinkFarm, path: str, host: str | None = None) -> str:
    return farm.url(path, host=host or (request.url.host or ""), scheme=request.scheme)


def redirect(location: str, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


# -- sites -------------------------------------------------------------------------------------


async def honest(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    path = request.path
    if path == "/":
        return home()
    if path in {"/articles/alive", "/articles/error-handling"}:
        return article(path)
    if path == "/articles/removed":
        return not_found_page(410)
    return not_found_page()


async def all200(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path == "/":
        return home()
    return html("Example Shop", "<p>Sorry, nothing matches. Browse our bestsellers below.</p>")


async def echo200(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path == "/":
        return home()
    return html("Docs", f"<p>There is nothing at {request.path} yet.</p>")


async def title404(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path in {"/", "/guide/real"}:
        return article(request.path)
    return html("Page Not Found | Guides", "<p>Try the search box.</p>")


async def club(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path == "/events/404-club-night":
        return html(
            "404 Club Night",
            f"<p>{article_text('club')}</p>",
            canonical=here(request, farm, request.path),
        )
    return not_found_page()


def to_fixed(target: str, status: int = 302, keep: frozenset[str] = frozenset()) -> Site:
    """A site whose unknown paths all redirect to `target`; `keep` paths are real pages."""
    target_path = target.split("?")[0]

    async def site(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
        path = request.path
        if path == "/" or (path == target_path and target_path in {"/en/", "/index.html"}):
            return home()
        if path in keep:
            return article(path)
        if path == target_path:
            return html("Oops", "<p>Something went wrong, the page is not here.</p>")
        return redirect(here(request, farm, target), status)

    return site


async def brand_blog(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    return redirect(here(request, farm, "/", host="www.brand.test"), 301)


async def brand_www(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    return home() if request.path == "/" else not_found_page()


async def members(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path == "/login":
        return html("Sign in", "<form><input name=user><input type=password></form>")
    if request.path == "/":
        return home()
    return redirect(here(request, farm, f"/login?next={request.path}"))


async def sso_app(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    return redirect(here(request, farm, "/signin?continue=app", host="accounts.ssoidp.test"))


async def sso_idp(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    return html("Sign in - Accounts", "<form><input name=email></form>")


async def paywall(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    code = request.path.rsplit("/", 1)[-1]
    if code.isdigit():
        return html("Subscribe", "<p>Subscribers only.</p>", status=int(code))
    return not_found_page()


CF_BODY = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    "<noscript>Enable JavaScript and cookies to continue</noscript>"
    "<script>window._cf_chl_opt={cvId: '3', cType: 'managed'};</script>"
    "<script src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1'></script>"
    "</body></html>"
)


def challenge(status: int, body: str = CF_BODY, headers: dict[str, str] | None = None) -> Site:
    async def site(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
        return web.Response(text=body, status=status, content_type="text/html", headers=headers)

    return site


async def sucuri(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    body = (
        "<html><head><title>Sucuri WebSite Firewall - Access Denied</title></head><body>"
        "<p>Sucuri WebSite Firewall: your request was held for a browser check.</p>"
        "<script>document.cookie='sucuri_cloudproxy_uuid_1=1';location.reload();</script>"
        "</body></html>"
    )
    return web.Response(text=body, status=503, content_type="text/html")


async def moment_poem(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path == "/poems/moment":
        return html("Just a moment...", f"<p>{article_text('poem')}</p>")
    return not_found_page()


def status_site(status: int, headers: dict[str, str] | None = None) -> Site:
    async def site(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
        return html("Trouble", "<p>Please come back later.</p>", status=status, headers=headers)

    return site


async def news_ids(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    parts = request.path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "article" and parts[1].isdigit():
        if parts[1] == "424242":
            return article("story-424242")
        return html("News", "<p>This story is unavailable.</p>")
    return home() if request.path == "/" else not_found_page()


async def honest_ids(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path == "/item/5555":
        return article("item-5555")
    return not_found_page()


async def search_site(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path == "/search":
        q = request.query.get("q", "")
        return html("Search", f"<p>No results for {q}.</p>")
    if request.path == "/":
        return home()
    slug = request.path.rstrip("/").rsplit("/", 1)[-1]
    return redirect(here(request, farm, f"/search?q={slug}"))


async def dir_site(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path == "/blog/":
        return html("Blog", f"<ul><li>{article_text('blog index', 60)}</li></ul>")
    if request.path == "/blog/real":
        return article("blog-real")
    if request.path.startswith("/blog/"):
        return redirect(here(request, farm, "/blog/"))
    return not_found_page()


async def slash(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path == "/docs":
        return redirect(here(request, farm, "/docs/"), 301)
    if request.path == "/docs/":
        return article("docs")
    return not_found_page()


async def bare(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    host = request.url.host or ""
    if not host.startswith("www."):
        return redirect(here(request, farm, request.path, host="www." + host), 301)
    return article(request.path) if request.path == "/page" else not_found_page()


async def tls_up(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if not request.secure:
        return redirect(farm.url(request.path, host="tls.test", scheme="https"), 301)
    return article(request.path) if request.path == "/secure-page" else not_found_page()


async def moved(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    targets = {"/old": ("/new", 301), "/temp": ("/new", 302), "/mixed": ("/step", 301)}
    if request.path in targets:
        target, code = targets[request.path]
        return redirect(here(request, farm, target), code)
    if request.path == "/step":
        return redirect(here(request, farm, "/new"), 302)
    if request.path == "/new":
        return article("new")
    return not_found_page()


async def old_domain(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    return redirect(here(request, farm, request.path, host="newdomain.test"), 301)


async def new_domain(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    return article(request.path) if request.path == "/post" else not_found_page()


async def shortener(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path == "/abc":
        return redirect(here(request, farm, "/", host="target-site.test"))
    return not_found_page()


async def target_site(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    return home() if request.path == "/" else not_found_page()


async def loop(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    nxt = "/b" if request.path == "/a" else "/a"
    return redirect(here(request, farm, nxt))


async def headless(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.method == "HEAD":
        return web.Response(status=405)
    return article("headless") if request.path == "/page" else not_found_page()


async def slow(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    await asyncio.sleep(0.3)
    return article("slow") if request.path == "/page" else not_found_page()


async def anchors(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path != "/doc":
        return not_found_page()
    main = (
        "<h2 id='present'>Present</h2><a name='named'></a><p id='caf%C3%A9'>x</p><p id='café'>y</p>"
    )
    return html("Anchors", main)


async def polite(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    """For politeness measurements: pages that take 30 ms; `/limited` is a 429 (2 s)."""
    if request.path == "/limited":
        return web.Response(status=429, text="slow down", headers={"Retry-After": "2"})
    if request.path == "/flaky":
        return web.Response(status=503, text="try again")
    await asyncio.sleep(0.03)
    return article(request.path) if request.path.startswith("/page") else not_found_page()


SITES: dict[str, Site] = {
    "polite.test": polite,
    "polite2.test": polite,
    "limited.test": polite,
    "honest.test": honest,
    "all200.test": all200,
    "echo200.test": echo200,
    "title404.test": title404,
    "club.test": club,
    "tohome.test": to_fixed("/", 302, frozenset({"/about"})),
    "tohome-perm.test": to_fixed("/", 301),
    "blog.brand.test": brand_blog,
    "www.brand.test": brand_www,
    "intl.test": to_fixed("/en/"),
    "indexsite.test": to_fixed("/index.html"),
    "members.test": members,
    "ssoapp.test": sso_app,
    "accounts.ssoidp.test": sso_idp,
    "paywall.test": paywall,
    "cfwall.test": challenge(403),
    "cf503.test": challenge(503),
    "cfheader.test": challenge(
        503, "<html><body>please wait</body></html>", {"cf-mitigated": "challenge"}
    ),
    "cf200.test": challenge(200),
    "sucuri.test": sucuri,
    "poems.test": moment_poem,
    "maint.test": status_site(503),
    "broken500.test": status_site(500),
    "ratelimit.test": status_site(429, {"Retry-After": "30"}),
    "newsids.test": news_ids,
    "honestids.test": honest_ids,
    "to404page.test": to_fixed("/404.html"),
    "tonotfound.test": to_fixed("/not-found", 301),
    "toerror.test": to_fixed("/error?code=404"),
    "tosearch.test": search_site,
    "todir.test": dir_site,
    "slash.test": slash,
    "bare.test": bare,
    "www.bare.test": bare,
    "tls.test": tls_up,
    "moved.test": moved,
    "olddomain.test": old_domain,
    "newdomain.test": new_domain,
    "shortener.test": shortener,
    "target-site.test": target_site,
    "loop.test": loop,
    "headless.test": headless,
    "slow.test": slow,
    "anchors.test": anchors,
}


def install(farm: LinkFarm) -> None:
    for name, site in SITES.items():
        farm.add_host(name, site)


@dataclass(frozen=True, slots=True)
class Case:
    label: str
    host: str
    path: str
    outcome: Outcome
    scheme: str = "http"


ZOO: list[Case] = [
    Case("honest site, live article", "honest.test", "/articles/alive", Outcome.OK),
    Case("honest site, home page", "honest.test", "/", Outcome.OK),
    Case("honest 404", "honest.test", "/articles/gone", Outcome.NOT_FOUND),
    Case("honest 410", "honest.test", "/articles/removed", Outcome.NOT_FOUND),
    Case("'error' in a live URL", "honest.test", "/articles/error-handling", Outcome.OK),
    Case("every path 200, same page", "all200.test", "/products/blue-widget", Outcome.SOFT_404),
    Case("every path 200, home page", "all200.test", "/", Outcome.OK),
    Case("every path 200, path echoed", "echo200.test", "/docs/some/page", Outcome.SOFT_404),
    Case("200 with a not-found title", "title404.test", "/guide/deleted", Outcome.SOFT_404),
    Case("real page on a title-404 site", "title404.test", "/guide/real", Outcome.OK),
    Case("'404' title, canonical self", "club.test", "/events/404-club-night", Outcome.OK),
    Case("unknown path 302 to home", "tohome.test", "/blog/old-post", Outcome.REDIRECT_TO_ROOT),
    Case("real page on a to-home site", "tohome.test", "/about", Outcome.OK),
    Case("unknown path 301 to home", "tohome-perm.test", "/x/y", Outcome.REDIRECT_TO_ROOT),
    Case("to the registrable domain home", "blog.brand.test", "/post", Outcome.REDIRECT_TO_ROOT),
    Case("to a locale home /en/", "intl.test", "/products/x", Outcome.REDIRECT_TO_ROOT),
    Case("to /index.html", "indexsite.test", "/old/page", Outcome.REDIRECT_TO_ROOT),
    Case("login wall by redirect", "members.test", "/article/7", Outcome.REDIRECT_TO_ROOT),
    Case("login on another host", "ssoapp.test", "/doc/1", Outcome.REDIRECT_TO_ROOT),
    Case("401 login wall", "paywall.test", "/story/401", Outcome.BLOCKED),
    Case("402 paywall", "paywall.test", "/story/402", Outcome.BLOCKED),
    Case("403 forbidden", "paywall.test", "/story/403", Outcome.BLOCKED),
    Case("451 legal block", "paywall.test", "/story/451", Outcome.BLOCKED),
    Case("999 bot refusal", "paywall.test", "/story/999", Outcome.BLOCKED),
    Case("Cloudflare challenge 403", "cfwall.test", "/paper", Outcome.BLOCKED),
    Case("Cloudflare challenge 503", "cf503.test", "/paper", Outcome.BLOCKED),
    Case("cf-mitigated: challenge 503", "cfheader.test", "/paper", Outcome.BLOCKED),
    Case("challenge page served with 200", "cf200.test", "/paper", Outcome.BLOCKED),
    Case("Sucuri firewall 503", "sucuri.test", "/paper", Outcome.BLOCKED),
    Case("'Just a moment...' poem", "poems.test", "/poems/moment", Outcome.OK),
    Case("plain 503 maintenance", "maint.test", "/page", Outcome.SERVER_ERROR),
    Case("500", "broken500.test", "/page", Outcome.SERVER_ERROR),
    Case("429 with Retry-After", "ratelimit.test", "/page", Outcome.RATE_LIMITED),
    Case("any numeric id answers 200", "newsids.test", "/article/918273", Outcome.SOFT_404),
    Case("real numeric-id article", "newsids.test", "/article/424242", Outcome.OK),
    Case("honest numeric id, present", "honestids.test", "/item/5555", Outcome.OK),
    Case("honest numeric id, absent", "honestids.test", "/item/7777", Outcome.NOT_FOUND),
    Case("redirect to /404.html", "to404page.test", "/a/b", Outcome.SOFT_404),
    Case("301 to /not-found", "tonotfound.test", "/a/b", Outcome.SOFT_404),
    Case("redirect to /error?code=404", "toerror.test", "/a/b", Outcome.SOFT_404),
    Case("redirect to an empty search", "tosearch.test", "/wiki/lost-page", Outcome.SOFT_404),
    Case("unknown to directory index", "todir.test", "/blog/deleted", Outcome.SOFT_404),
    Case("real page, index-redirect site", "todir.test", "/blog/real", Outcome.OK),
    Case("trailing slash redirect", "slash.test", "/docs", Outcome.OK),
    Case("www. redirect", "bare.test", "/page", Outcome.OK),
    Case("http -> https redirect", "tls.test", "/secure-page", Outcome.OK),
    Case("permanent move", "moved.test", "/old", Outcome.MOVED),
    Case("temporary redirect", "moved.test", "/temp", Outcome.OK),
    Case("301 then 302", "moved.test", "/mixed", Outcome.MOVED),
    Case("domain moved, same path", "olddomain.test", "/post", Outcome.MOVED),
    Case("short link to another home", "shortener.test", "/abc", Outcome.OK),
    Case("redirect loop", "loop.test", "/a", Outcome.TOO_MANY_REDIRECTS),
    Case("HEAD refused, GET works", "headless.test", "/page", Outcome.OK),
    Case("slow but in time", "slow.test", "/page", Outcome.OK),
]


def special_cases(farm: LinkFarm) -> list[tuple[str, str, Outcome]]:
    """Hostile servers and failures on the farm's own special ports: (label, url, outcome)."""
    return [
        ("slow drip body", farm.url("/drip?every=0.2"), Outcome.TIMEOUT),
        ("endless body", farm.url("/endless"), Outcome.OK),
        ("gzip bomb", farm.url("/bomb?mib=512"), Outcome.OK),
        ("not HTTP at all", farm.garbage_url, Outcome.SERVER_ERROR),
        ("status line dripping", farm.drip_headers_url, Outcome.TIMEOUT),
        ("accepts, never answers", farm.hang_url, Outcome.TIMEOUT),
        ("connection refused", farm.refused_url, Outcome.REFUSED),
        ("huge headers", farm.huge_headers_url, Outcome.SERVER_ERROR),
        ("endless headers", farm.endless_headers_url, Outcome.SERVER_ERROR),
        ("name does not resolve", "http://nowhere.invalid/page", Outcome.DNS_ERROR),
        ("resolves to a private address", "http://intranet.corp/page", Outcome.PRIVATE_TARGET),
    ]
