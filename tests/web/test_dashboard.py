"""The dashboard over HTTP: a real uvicorn server on loopback."""

from __future__ import annotations

import re

from service.model import Health
from tests.reports.sample import HOSTILE
from tests.web.conftest import TOKEN, Dashboard


def test_pages_render_and_escape_hostile_text(dashboard: Dashboard) -> None:
    with dashboard.client() as c:
        home = c.get("/")
        assert home.status_code == 200 and "text/html" in home.headers["content-type"]
        assert "Trump &amp; Kim: &lt;the talks&gt;" in home.text
        assert "default-src 'none'" in home.headers["content-security-policy"]
        page = c.get(f"/articles/{dashboard.ids.article_a}")
        assert page.status_code == 200
        assert HOSTILE not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert not re.search(r"<script", page.text, re.I)
        assert 'href="javascript:' not in page.text and "javascript:alert(2)" in page.text
        assert "archived copy of 2018-05-26" in page.text
        assert page.text.count('<svg class="strip"') == 4
        gone = dashboard.ids.links["https://gone.example/story"]
        link = c.get(f"/links/{gone}")
        assert link.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in link.text and HOSTILE not in link.text
        assert "20180526093000" in link.text and "not_found" in link.text
        assert c.get("/articles/999").status_code == 404
        assert c.get("/links/999").status_code == 404


def test_api_articles_links_history(dashboard: Dashboard) -> None:
    with dashboard.client() as c:
        articles = c.get("/api/articles").json()
        assert [a["id"] for a in articles] == [dashboard.ids.article_a, dashboard.ids.article_b]
        assert articles[0]["counts"]["dead"] == 1 and articles[0]["score"] == 75.0
        dead = c.get("/api/links", params={"health": "dead,suspect"}).json()
        assert {d["url"] for d in dead} == {
            "https://gone.example/story",
            "https://suspect.example/p",
        }
        assert dead[0]["health"] == "dead"  # worst first
        assert c.get("/api/links", params={"health": "zombie"}).status_code == 422
        gone = dashboard.ids.links["https://gone.example/story"]
        detail = c.get(f"/api/links/{gone}").json()
        assert {x["article"] for x in detail["cited_by"]} == {
            "articles/a.md",
            "https://blog.example/post",
        }
        assert {s["role"] for s in detail["snapshots"]} == {"citation", "latest"}
        history = c.get(f"/api/links/{gone}/history", params={"limit": 6}).json()
        assert [h["outcome"] for h in history] == ["not_found"] * 5 + ["ok"]
        occurrences = c.get(f"/api/articles/{dashboard.ids.article_a}/links").json()
        assert occurrences[0]["anchor_text"] == HOSTILE  # JSON carries the text as written
        assert c.get("/api/openapi.json").json()["info"]["title"] == "linkwatch"
        assert c.get("/healthz").json() == {"status": "ok", "database": "ok"}


def test_metrics_are_prometheus_text(dashboard: Dashboard) -> None:
    with dashboard.client() as c:
        r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "text/plain; version=0.0.4"
    )
    lines = r.text.splitlines()
    sample = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$')
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in lines
        if not line.startswith("#")
    }
    assert values['linkwatch_links{health="dead"}'] == 1
    assert values['linkwatch_links{health="suspect"}'] == 1
    assert values['linkwatch_checks_total{outcome="not_found"}'] == 6
    assert (
        values['linkwatch_check_latency_seconds_bucket{le="0.05"}']
        == values["linkwatch_check_latency_seconds_count"]
    )
    assert (
        values['linkwatch_check_latency_seconds_bucket{le="+Inf"}']
        == values["linkwatch_check_latency_seconds_count"]
    )
    assert values['linkwatch_archive_lookups{role="citation",result="found"}'] == 1
    assert "# TYPE linkwatch_alerts_sent_total counter" in lines


def test_state_changes_need_the_token(dashboard: Dashboard) -> None:
    alive = dashboard.ids.links["https://alive.example/page"]
    with (
        dashboard.client() as anonymous,
        dashboard.client("wrong") as wrong,
        dashboard.client(TOKEN) as admin,
    ):
        for client in (anonymous, wrong):
            for path in (f"/api/links/{alive}/ignore", f"/api/links/{alive}/recheck"):
                r = client.post(path)
                assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
            assert client.post("/api/articles", json={"location": "x.md"}).status_code == 401
        assert anonymous.get(f"/api/links/{alive}").json()["link"]["ignored"] is False
        r = admin.post(f"/api/links/{alive}/ignore")
        assert r.status_code == 200 and r.json()["ignored"] is True
        r = admin.post(f"/api/links/{alive}/ignore", json={"ignored": False})
        assert r.json()["ignored"] is False
        r = admin.post(f"/api/links/{alive}/recheck")
        assert r.status_code == 200 and r.json()["next_check_at"] == "2024-06-01T12:00:00Z"
        assert admin.post("/api/links/999/recheck").status_code == 404
        assert (
            admin.post("/api/articles", json={"location": "/nonexistent/a.md"}).status_code == 422
        )


def test_add_article_by_location(dashboard: Dashboard, tmp_path) -> None:
    source = tmp_path / "new.md"
    source.write_text("# New\n\n[a](https://new.example/a) and [b](#)\n", encoding="utf-8")
    with dashboard.client(TOKEN) as admin:
        r = admin.post("/api/articles", json={"location": str(source), "tags": ["x"]})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["title"] == "New" and body["links"] == 2 and body["counts"]["unchecked"] == 1
        links = admin.get("/api/links", params={"article": body["id"]}).json()
        assert [lk["url"] for lk in links] == ["https://new.example/a"]
        assert links[0]["health"] == Health.UNCHECKED.value


def test_without_a_configured_token_changes_are_refused(tokenless: Dashboard) -> None:
    alive = tokenless.ids.links["https://alive.example/page"]
    with tokenless.client(TOKEN) as c:
        r = c.post(f"/api/links/{alive}/recheck")
        assert r.status_code == 403 and "web.token" in r.json()["detail"]
        assert c.post("/api/articles", json={"location": "x.md"}).status_code == 403
        assert c.get("/api/articles").status_code == 200  # reading stays open
