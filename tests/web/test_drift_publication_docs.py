"""The dashboard's drift views, its publication page and API, and the offline API docs, over
HTTP (a real uvicorn server on loopback) on a real database holding drift comparisons."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from service.store.db import Database, open_database
from tests.reports.driftsample import ALIVE, ALIVE_CAPTURE, FLAKY, MOVED, add_drift
from tests.reports.sample import HOSTILE, NOW, SampleIds, fill_sample
from tests.web.conftest import Dashboard, running, settings_with

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def drift_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    db: Database = open_database(f"sqlite:///{tmp_path_factory.mktemp('web-drift') / 'lw.db'}")
    with db.session() as session:
        ids: SampleIds = fill_sample(session)
        add_drift(session, ids)
    try:
        with running(db, settings_with("t0ken"), lambda: NOW) as base:
            yield Dashboard(base, db, ids)
    finally:
        db.dispose()


def test_article_page_marks_drifted_links(drift_dashboard: Dashboard) -> None:
    with drift_dashboard.client() as c:
        page = c.get(f"/articles/{drift_dashboard.ids.article_a}").text
    assert 'data-health="alive" data-drift="drifted"' in page
    assert 'data-health="alive" data-drift="replaced"' in page
    assert 'data-health="alive" data-drift="same"' in page
    # the dead link was compared before it died: the fact is kept, but no chip (dead wins)
    assert 'data-health="dead" data-drift="drifted"' in page
    assert page.count("content drifted ") == 1
    assert "content drifted 0.55</span>" in page and "content replaced 0.95</span>" in page
    assert "As cited (what the author saw): " in page and ALIVE_CAPTURE in page
    assert "Content drifted since cited (drift score 0.55), compared 2024-05-27 12:00" in page
    assert HOSTILE not in page


def test_link_page_shows_the_drift_history(drift_dashboard: Dashboard) -> None:
    alive = drift_dashboard.ids.links[ALIVE]
    with drift_dashboard.client() as c:
        page = c.get(f"/links/{alive}").text
        never = c.get(f"/links/{drift_dashboard.ids.links['https://blocked.example/x']}").text
    section = page[page.index('id="drift"') : page.index("Cited by")]
    assert 'data-drift="drifted"' in section
    assert "The page drifted: it no longer says what was cited (drift score 0.55" in section
    # newest first: the failed comparison, the drift, the old "same"
    assert re.findall(r'<tr data-verdict="(\w+)">', section) == ["error", "drifted", "same"]
    assert "no verdict" in section and "timeout" in section and "900 → 850" in section
    assert "Never compared" in never


def test_api_link_includes_drift(drift_dashboard: Dashboard) -> None:
    ids = drift_dashboard.ids
    with drift_dashboard.client() as c:
        alive = c.get(f"/api/links/{ids.links[ALIVE]}").json()
        flaky = c.get(f"/api/links/{ids.links[FLAKY]}").json()
        moved = c.get(f"/api/links/{ids.links[MOVED]}").json()
        never = c.get(f"/api/links/{ids.links['https://blocked.example/x']}").json()
        occurrences = c.get(f"/api/articles/{ids.article_a}/links").json()
    assert alive["drift"]["verdict"] == "drifted" and alive["drift"]["drift_score"] == 0.55
    assert alive["drift"]["cosine"] == 0.45 and alive["drift"]["word_count_live"] == 850
    assert [d["verdict"] for d in alive["drift_history"]] == ["error", "drifted", "same"]
    assert alive["drift_history"][0]["error"] == "timeout"
    assert flaky["drift"]["verdict"] == "replaced" and moved["drift"]["verdict"] == "same"
    assert never["drift"] is None and never["drift_history"] == []
    by_url = {o["url"]: o for o in occurrences if o["url"]}
    assert (by_url[ALIVE]["drift"], by_url[ALIVE]["drift_score"]) == ("drifted", 0.55)


def test_publication_page_and_api(drift_dashboard: Dashboard) -> None:
    with drift_dashboard.client() as c:
        page = c.get("/publication")
        year = c.get("/api/publication", params={"by": "year"}).json()
        domain = c.get("/api/publication", params={"by": "domain", "scope": "external"}).json()
        source = c.get("/api/publication", params={"by": "source"}).json()
        bad = c.get("/api/publication", params={"by": "colour"})
        bad_scope = c.get("/api/publication", params={"scope": "galaxy"})
        home = c.get("/").text
    assert (
        page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    )
    text = page.text
    assert 'href="/publication"' in home
    # by year: the chart (one bar per dated year) and the table
    assert re.findall(r'<rect class="bar" data-year="(\d+)" data-share="([\d.]+)"', text) == [
        ("2018", "0.2500"),
        ("2020", "0.3333"),
    ]
    assert '<tr data-year="2018">' in text and '<tr data-year="2020">' in text
    # by domain: gone.example has the dead link; by source: the articles added by hand
    assert '<tr data-domain="gone.example">' in text
    assert text.index('data-domain="gone.example"') < text.index('data-domain="alive.example"')
    assert "(added by hand)" in text
    assert not re.search(r"<script", text, re.I)
    assert [(r["year"], r["counts"]["dead"], r["counts"]["checked"]) for r in year["rows"]] == [
        (2018, 1, 4),
        (2020, 1, 3),
    ]
    assert year["by"] == "year" and year["total"]["dead"] == 1
    assert domain["scope"] == "external" and domain["rows"][0]["domain"] == "gone.example"
    assert domain["rows"][0]["dead_links"][0]["url"] == "https://gone.example/story"
    assert source["rows"][0]["kind"] == "manual" and source["rows"][0]["articles"] == 2
    assert bad.status_code == 422 and "unknown view 'colour'" in bad.json()["detail"]
    assert bad_scope.status_code == 422


def test_api_docs_page_is_self_contained(drift_dashboard: Dashboard) -> None:
    with drift_dashboard.client() as c:
        docs = c.get("/api/docs")
        schema = c.get("/api/openapi.json").json()
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    text = docs.text
    # nothing to fetch from anywhere: no script at all, no external URL, a strict CSP
    assert not re.search(r"<script", text, re.I)
    assert not EXTERNAL.search(text), EXTERNAL.search(text)
    assert "http://" not in text and "https://" not in text
    assert "default-src 'none'" in docs.headers["content-security-policy"]
    # every operation of the schema is documented, with its parameters and answers
    operations = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post")
    ]
    assert len(operations) >= 10
    for method, path in operations:
        assert f'data-method="{method}" data-path="{path}"' in text, (method, path)
    assert "/api/publication" in text and "<code>by</code>" in text
    ignore = text[text.index('id="post-api-links-link_id-ignore"') :]
    assert "needs the bearer token" in ignore[: ignore.index("</h2>")]
    listing = text[text.index('id="get-api-links"') :]
    assert "needs the bearer token" not in listing[: listing.index("</h2>")]
    assert 'id="schema-DriftOut"' in text and "<code>drift_score</code>" in text
