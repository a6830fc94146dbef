"""Golden tests per format on a database filled by real checks against the link farm, and the
escaping of untrusted text in every format."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.errors import UsageError
from service.model import Health
from service.reports import Report, build_report, render
from service.store.db import Database, open_database
from tests.reports.farmdb import NOW, fill_from_farm, normalise
from tests.support.farm import LinkFarm

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
FarmReport = tuple[Report, LinkFarm, Database]
SUFFIX = {"table": "txt", "json": "json", "markdown": "md", "html": "html"}


@pytest.fixture(scope="module")
def farm_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarmReport]:
    db = open_database(f"sqlite:///{tmp_path_factory.mktemp('golden') / 'lw.db'}")
    with LinkFarm() as farm:
        fill_from_farm(db, farm)
        with db.session() as session:
            report = build_report(session, now=NOW, history=True)
        yield report, farm, db
    db.dispose()


@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "html"])
def test_golden(fmt: str, farm_report: FarmReport) -> None:
    report, farm, _ = farm_report
    text = normalise(render(report, fmt, width=160), farm)
    path = GOLDEN / f"report.{SUFFIX[fmt]}"
    if UPDATE or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"golden {path.name} was missing and has been written; check it in")
    assert text == path.read_text(encoding="utf-8")


def test_real_checks_gave_the_expected_health(farm_report: FarmReport) -> None:
    report, farm, _ = farm_report
    health = {(lk.article, lk.href): lk.health for lk in report.links}
    md = "articles/farm.md"
    assert health[(md, farm.url("/ok"))] is Health.ALIVE
    assert health[(md, farm.url("/status/404"))] is Health.DEAD
    assert health[(md, farm.refused_url)] is Health.DEAD
    assert health[(md, farm.url("/moved/page"))] is Health.ALIVE
    assert health[(md, farm.url("/status/403"))] is Health.UNKNOWN
    assert health[(md, farm.url("/status/503"))] is Health.UNKNOWN
    assert health[(md, "#")] is Health.NOT_APPLICABLE
    moved = next(lk for lk in report.links if lk.href == farm.url("/moved/page"))
    assert moved.moved_to == farm.url("/moved/new-page")


def test_json_has_the_design_fields_in_a_stable_order(farm_report: FarmReport) -> None:
    report, farm, _ = farm_report
    objects = json.loads(render(report, "json"))
    assert len(objects) == len(report.links) == 11
    first = objects[0]
    assert list(first)[:12] == [
        "article",
        "article_id",
        "article_title",
        "anchor_text",
        "href",
        "url",
        "kind",
        "position",
        "line",
        "outcome",
        "health",
        "since",
    ]
    for key in ("http_status", "final_url", "checked_at", "archive", "archive_latest"):
        assert key in first
    dead = next(
        o
        for o in objects
        if o["href"] == farm.url("/status/404") and o["article"] == "articles/farm.md"
    )
    assert (
        dead["health"] == "dead" and dead["outcome"] == "not_found" and dead["http_status"] == 404
    )
    assert dead["checked_at"] == "2024-05-21T11:00:00Z"
    assert dead["archive"] == {
        "url": f"https://web.archive.org/web/20190304101500/{farm.url('/status/404')}",
        "timestamp": "2019-03-04T10:15:00Z",
    }
    assert dead["checks"] == {"7d": 3, "30d": 3, "90d": 3} and dead["uptime"]["7d"] == 0.0


def test_hostile_text_is_escaped_in_every_format(farm_report: FarmReport) -> None:
    report, _, _ = farm_report
    html = render(report, "html")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Hostile &lt;b&gt;title&lt;/b&gt;" in html
    assert 'href="javascript:' not in html and "javascript:alert(2)" in html
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert "http" not in "".join(re.findall(r"(?:src|@import)[^>]*", html))
    md = render(report, "markdown")
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "](javascript:" not in md
    table = render(report, "table", width=100)
    assert "<script>alert(1)</script>" in table  # the terminal shows it as plain text


def test_html_report_is_self_contained_and_mobile_ready(farm_report: FarmReport) -> None:
    report, _farm, _ = farm_report
    html = render(report, "html")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert html.count('<svg class="strip"') == 8  # one strip per checked link occurrence
    strip = html.split('<svg class="strip"', 2)[1].split("</svg>", 1)[0]
    assert strip.count("<rect") == 90
    assert "#cf222e" in strip  # the dead link's checked days are red
    # nothing is loaded from anywhere: every URL is a link target, never a resource
    assert not re.search(r"""\s(src|srcset|poster|data)=""", html)
    assert "url(" not in html


def test_unknown_format_is_a_usage_error(farm_report: FarmReport) -> None:
    with pytest.raises(UsageError, match="unknown report format"):
        render(farm_report[0], "pdf")
