"""Pure verdict functions: soft-404 signals and probes, roots, challenges, fragments, retries."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from service.checks import canary, challenge, fragments, roots, soft404
from service.checks.retry import RetryPolicy, with_retries
from service.checks.soft404 import PageSeen, Verdict
from service.model import CheckResult, Outcome

T = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "hit"),
    [
        ("https://x.org/404", True),
        ("https://x.org/404.html", True),
        ("https://x.org/errors/not-found", True),
        ("https://x.org/notfound.aspx", True),
        ("https://x.org/error?code=404", True),
        ("https://x.org/page_not_found", True),
        ("https://x.org/blog/terror-attack", False),
        ("https://x.org/blog/4040-prices", False),
        ("https://x.org/foundation", False),
    ],
)
def test_not_found_urls(url: str, hit: bool) -> None:
    assert soft404.not_found_url(url) is hit


@pytest.mark.parametrize(
    ("title", "hit"),
    [
        ("Page not found – Example", True),
        ("404", True),
        ("Error 404 | Shop", True),
        ("Not Found", True),
        ("This article is no longer available", True),
        ("The page you requested could not be found", True),
        ("Seite nicht gefunden", True),
        ("Found: a memoir", False),
        ("How we found 4040 bugs", False),
        (None, False),
    ],
)
def test_error_titles(title: str | None, hit: bool) -> None:
    assert soft404.error_title(title) is hit


def test_canonical_self_beats_an_error_title_but_not_a_redirect_to_404() -> None:
    url = "https://club.org/events/404-night"
    body = b'<head><link href="/events/404-night/" rel="canonical"><title>404 Night</title>'
    assert soft404.canonical_url(body, url) == "https://club.org/events/404-night/"
    assert soft404.cheap_verdict(url, url, "404 Night", body) is Verdict.ALIVE
    assert soft404.cheap_verdict(url, url, "404 Night", b"<title>404</title>") is Verdict.SOFT_404
    night = "https://club.org/events/night"
    assert soft404.cheap_verdict(night, "https://club.org/404.html", "C", b"") is Verdict.SOFT_404
    canon_404 = b"<link rel='canonical' href='https://club.org/not-found'>"
    assert soft404.cheap_verdict(night, night, "Club", canon_404) is Verdict.SOFT_404
    assert soft404.cheap_verdict(url, url, "Club", b"<p>hi</p>") is Verdict.UNKNOWN
    # A link that is itself an error-looking URL is judged by other signals.
    err = "https://x.org/error-codes"
    assert soft404.cheap_verdict(err, err, "Error codes", b"") is Verdict.UNKNOWN


def test_probe_urls_sibling_and_numeric_id() -> None:
    rng = random.Random(7)
    probes = soft404.probe_urls("https://News.org:8443/world/article/98765/?utm=1#x", rng)
    sibling, numeric = probes
    assert sibling.kind == "sibling" and numeric.kind == "numeric"
    head, _, seg = sibling.url.rstrip("/").rpartition("/")
    assert head == "https://news.org:8443/world/article/98765".rsplit("/", 1)[0]
    assert len(seg) == 25 and seg.isalpha() and seg.islower() and sibling.url.endswith("/")
    assert sibling.key == "https://news.org:8443/world/article/"
    nid = numeric.url.rstrip("/").rsplit("/", 1)[1]
    assert nid.isdigit() and len(nid) == 5 and nid != "98765"
    assert numeric.key == "https://news.org:8443/world/article/{n5}/"
    assert soft404.probe_urls("https://x.org/", rng) == []
    assert soft404.probe_urls("https://x.org/en/", rng) == []
    # Years and short numbers are not ids.
    assert [p.kind for p in soft404.probe_urls("https://x.org/2021/05/post", rng)] == ["sibling"]
    assert [p.kind for p in soft404.probe_urls("https://x.org/page/12", rng)] == ["sibling"]


def test_probe_keys_are_known_before_any_random_url_is_drawn() -> None:
    """The cache is asked by key first: a hit must not have cost a random URL (nor moved the
    random source, which tests use to predict probe URLs)."""
    url = "https://news.org/world/article/98765/"
    rng = random.Random(7)
    state = rng.getstate()
    keys = soft404.probe_keys(url)
    assert rng.getstate() == state
    assert [(k.key, k.kind) for k in keys] == [
        ("https://news.org/world/article/", "sibling"),
        ("https://news.org/world/article/{n5}/", "numeric"),
    ]
    drawn = [k.draw(rng) for k in keys]
    assert drawn == soft404.probe_urls(url, random.Random(7))
    assert soft404.probe_keys("https://x.org/en/") == []


def test_probe_urls_are_reproducible_with_the_same_seed() -> None:
    a = soft404.probe_urls("https://x.org/a/b", random.Random(1))
    b = soft404.probe_urls("https://x.org/a/b", random.Random(1))
    c = soft404.probe_urls("https://x.org/a/b", random.Random(2))
    assert a == b and a != c


def test_similarity_on_whitespace_tokens() -> None:
    template = " ".join(f"word{i}" for i in range(100))
    a = soft404.tokens(f"{template} nothing at /a/one".encode())
    b = soft404.tokens(f"{template} nothing at /b/two".encode())
    assert soft404.similarity(a, b) >= 0.95
    c = soft404.tokens(" ".join(f"other{i}" for i in range(100)).encode())
    assert soft404.similarity(a, c) == 0.0
    assert soft404.similarity(Counter(), Counter()) == 1.0


def test_judge_probe() -> None:
    body = b" ".join(b"t%d" % i for i in range(200))
    link = PageSeen.of(200, "https://x.org/a/real", body)
    assert soft404.judge_probe(link, PageSeen(404, "https://x.org/a/zz")) is Verdict.ALIVE
    assert soft404.judge_probe(link, PageSeen(410, "https://x.org/a/zz")) is Verdict.ALIVE
    assert soft404.judge_probe(link, PageSeen(429, None)) is Verdict.UNKNOWN
    assert soft404.judge_probe(link, PageSeen(503, None)) is Verdict.UNKNOWN
    assert soft404.judge_probe(link, PageSeen(None, None)) is Verdict.UNKNOWN
    same_end = PageSeen.of(200, "https://x.org/a/real/", b"other")
    assert soft404.judge_probe(link, same_end) is Verdict.SOFT_404
    similar = PageSeen.of(200, "https://x.org/a/zz", body + b" extra")
    assert soft404.judge_probe(link, similar) is Verdict.SOFT_404
    different = PageSeen.of(200, "https://x.org/a/zz", b"a wholly different page")
    assert soft404.judge_probe(link, different) is Verdict.ALIVE
    unread = PageSeen(200, "https://x.org/a/real")
    assert soft404.judge_probe(unread, different) is Verdict.UNKNOWN
    login = PageSeen.of(200, "https://x.org/login", b"form")
    assert soft404.judge_probe(PageSeen.of(200, "https://x.org/login", b"x"), login) is not (
        Verdict.SOFT_404
    )


def test_probe_cache_ttl_and_size() -> None:
    now = [0.0]
    cache = soft404.ProbeCache(60, clock=lambda: now[0], max_entries=2)
    cache.put("a", PageSeen(404, None))
    now[0] = 59.9
    assert cache.get("a") == PageSeen(404, None)
    now[0] = 60.0
    assert cache.get("a") is None
    cache.put("a", PageSeen(404, None))
    cache.put("b", PageSeen(404, None))
    cache.get("a")
    cache.put("c", PageSeen(404, None))
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 2


@pytest.mark.parametrize(
    ("url", "final", "redirected", "hit"),
    [
        ("https://x.org/post/1", "https://x.org/", True, True),
        ("https://x.org/post/1", "http://www.x.org", True, True),
        ("https://blog.x.org/post", "https://www.x.org/", True, True),
        ("https://x.co.uk/post", "https://news.x.co.uk/", True, True),
        ("https://x.org/post", "https://x.org/en-us/", True, True),
        ("https://x.org/post", "https://x.org/index.php", True, True),
        ("https://x.org/doc", "https://x.org/login?next=/doc", True, True),
        ("https://x.org/doc", "https://accounts.idp.com/signin/v2", True, True),
        ("https://x.org/doc", "https://x.org/users/sign_in", True, True),
        ("https://x.org/post", "https://x.org/", False, False),  # no redirect
        ("https://x.org/", "https://www.x.org/", True, False),  # the link is a home page
        ("https://x.org/en", "https://x.org/en/", True, False),
        ("https://x.org/post", "https://x.org/post/", True, False),  # trivial
        ("https://sho.rt/abc", "https://other.com/", True, False),  # another site's home
        ("https://x.org/post", "https://x.org/blog/", True, False),
        ("https://x.org/author/jo", "https://x.org/authors/jo", True, False),
        ("https://x.org/login", "https://x.org/login/", True, False),
    ],
)
def test_redirect_to_root(url: str, final: str, redirected: bool, hit: bool) -> None:
    assert roots.redirect_to_root(url, final, redirected) is hit


def test_registrable_domain_never_downloads() -> None:
    assert roots.registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert roots.registrable_domain("blog.brand.test") == "brand.test"
    assert roots.registrable_domain("localhost") == "localhost"
    assert roots._extractor().suffix_list_urls == ()


def test_challenges() -> None:
    cf = b"<script>window._cf_chl_opt={}</script>"
    assert challenge.is_challenge(403, "Just a moment...", cf)
    assert challenge.is_challenge(503, None, cf)
    assert challenge.is_challenge(503, "Attention Required! | Cloudflare", b"")
    assert challenge.is_challenge(503, None, b"", {"CF-Mitigated": "challenge"})
    assert challenge.is_challenge(200, "Just a moment...", cf)
    assert not challenge.is_challenge(200, "Just a moment...", b"<p>a poem</p>")
    assert not challenge.is_challenge(200, "How Cloudflare works", cf)
    assert not challenge.is_challenge(503, "Maintenance", b"back soon")
    assert not challenge.is_challenge(404, "Just a moment...", cf)
    assert not challenge.is_challenge(None, None, cf)


def test_fragments() -> None:
    page = b"<h2 id='usage'>U</h2><a name='old-anchor'></a><p id='caf\xc3\xa9'>c</p>"
    assert fragments.has_anchor(page, "#usage") and fragments.has_anchor(page, "old-anchor")
    assert fragments.has_anchor(page, "#caf%C3%A9")
    assert not fragments.has_anchor(page, "#Usage")  # case-sensitive, like browsers
    assert fragments.has_anchor(page, "#") and fragments.has_anchor(page, "#top")
    assert fragments.has_anchor(page, "#:~:text=hello")
    assert fragments.missing_fragments(page, ["#gone", "#usage", "#gone", "#a"]) == ["#a", "#gone"]
    assert fragments.fragment_warning("#gone") == "fragment #gone not found"


def test_retry_policy() -> None:
    policy = RetryPolicy(retries=2, backoff_s=1.0, retry_after_cap_s=60)
    assert policy.delay(1, Outcome.SERVER_ERROR) == 1.0
    assert policy.delay(2, Outcome.SERVER_ERROR) == 2.0
    assert policy.delay(3, Outcome.SERVER_ERROR) is None  # 2 retries used
    assert policy.delay(1, Outcome.TIMEOUT, remaining_s=5) == 1.0
    assert policy.delay(1, Outcome.TIMEOUT, remaining_s=0.5) is None  # past the deadline
    assert policy.delay(1, Outcome.RATE_LIMITED, retry_after_s=7, remaining_s=20) == 7
    assert policy.delay(1, Outcome.RATE_LIMITED, retry_after_s=700) == 60  # capped
    assert policy.delay(1, Outcome.RATE_LIMITED, retry_after_s=30, remaining_s=20) is None
    for outcome in (Outcome.REFUSED, Outcome.NOT_FOUND, Outcome.BLOCKED, Outcome.DNS_ERROR):
        assert policy.delay(1, outcome) is None
    assert RetryPolicy(retries=0).delay(1, Outcome.SERVER_ERROR) is None


async def test_with_retries_runs_until_an_answer_is_final() -> None:
    answers = [Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.OK]
    slept: list[float] = []

    async def attempt() -> Outcome:
        return answers.pop(0)

    async def sleep(s: float) -> None:
        slept.append(s)

    result, n = await with_retries(
        attempt, lambda o: (o, None), RetryPolicy(backoff_s=0.5), sleep=sleep
    )
    assert (result, n, slept) == (Outcome.OK, 3, [0.5, 1.0])


def _result(url: str, outcome: Outcome, status: int | None = None) -> CheckResult:
    return CheckResult(url=url, outcome=outcome, checked_at=T, http_status=status)


def test_needs_canary() -> None:
    ok = [_result(f"https://h{i}.org/", Outcome.OK, 200) for i in range(10)]
    dead = [_result(f"https://d{i}.org/", Outcome.DNS_ERROR) for i in range(3)]
    assert not canary.needs_canary(ok)
    assert not canary.needs_canary(ok + dead)  # 3 of 13 hosts: the links, not the monitor
    assert canary.needs_canary(ok[:2] + dead[:1])  # few hosts: any network failure
    many = [_result(f"https://d{i}.org/", Outcome.TIMEOUT) for i in range(11)]
    assert canary.needs_canary(ok + many)
    # Failures with an HTTP answer (5xx, 404) are not network failures.
    assert not canary.needs_canary([_result("https://a.org/", Outcome.SERVER_ERROR, 503)])
    assert not canary.needs_canary([_result("https://a.org/", Outcome.NOT_FOUND, 404)])


def test_as_offline_relabels_only_network_failures() -> None:
    refused = canary.as_offline(_result("https://a.org/", Outcome.REFUSED))
    assert refused.outcome is Outcome.OFFLINE and "offline" in (refused.error or "")
    notfound = _result("https://a.org/x", Outcome.NOT_FOUND, 404)
    assert canary.as_offline(notfound) is notfound


def test_docs_explain_every_outcome_in_the_words_of_the_model() -> None:
    from pathlib import Path

    from service.model import OUTCOME_EXPLANATION

    doc = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for outcome, text in OUTCOME_EXPLANATION.items():
        assert f"| `{outcome.value}` | {outcome.signal.value} | {text} |" in doc, outcome
