"""The seed article: a synthetic capture holding targets for all 52 lost links recovers them all,
and the written article differs from the input only in those 52 targets."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.articles.sources import read_article_file
from service.cli.app import run
from service.model import LinkKind
from tests.recover.pages import page
from tests.support.fake_wayback import FakeCapture, FakeWayback

SEED = Path(__file__).resolve().parents[2] / "config/articles/us-intransigence-trump-kim.md"
SLUG_URL = (
    "https://www.globalresearch.ca/"
    "us-intransigence-scuttled-the-trump-kim-negotiations-not-north-korea/"
)
FULL_URL = SLUG_URL + "5642123"
TS = "20180526143000"
HEADER_LINKS = 7  # byline, regions, themes, in-depth report: in the article's header


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeWayback]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LINKWATCH_CONFIG", raising=False)
    wb = FakeWayback()
    with wb.running_in_thread():
        monkeypatch.setenv("LINKWATCH_WAYBACK_URL", wb.base_url)
        monkeypatch.setenv("LINKWATCH_WAYBACK__CDX_PER_MINUTE", "60000")
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'lw.db'}")
        yield wb


def target(i: int) -> str:
    return f"https://example.org/{i}"


def captured_original(anchors: list[str]) -> str:
    """Global Research's page as archived: site menu, article, sidebar, footer; some hrefs
    rewritten by the archive."""
    links = []
    for i, text in enumerate(anchors):
        href = target(i)
        if i % 9 == 4:
            href = f"/web/{TS}/{href}"
        elif i % 9 == 8:
            href = f"https://web.archive.org/web/{TS}im_/{href}"
        links.append((text, href))
    links += [
        ("publications@globalresearch.ca", "mailto:publications@globalresearch.ca"),
        ("www.globalresearch.ca", "http://www.globalresearch.ca"),
    ]
    wrong = "https://www.globalresearch.ca/wrong/"
    return page(
        links[HEADER_LINKS:],
        byline=links[:HEADER_LINKS],
        nav=[(t, wrong + t) for t in ("Asia", "USA", "NORTH KOREA", "Law and Justice", "Home")],
        sidebar=[("Steven Chovanec", wrong + "sidebar"), ("responded", wrong + "popular")],
        footer=[("Become a Member of Global Research", wrong + "member")],
        title="US Intransigence Scuttled the Trump-Kim Negotiations, Not North Korea",
    )


def test_seed_all_52_recovered_and_only_targets_change(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "article.md"
    shutil.copyfile(SEED, src)
    seed = read_article_file(src)
    placeholders = [o for o in seed.occurrences if o.kind is LinkKind.PLACEHOLDER]
    assert len(placeholders) == 52
    server.add_capture(
        FULL_URL, FakeCapture(TS, body=captured_original([o.anchor_text for o in placeholders]))
    )
    out = tmp_path / "recovered.md"
    assert run(["recover", str(src), "--format", "json", "--write", str(out)]) == 0
    data = json.loads(capsys.readouterr().out)

    assert (data["recovered"], data["unrecovered"]) == (52, 0)
    assert data["capture"]["matched_by"] == "prefix"
    assert data["capture"]["original_url"] == FULL_URL
    assert data["capture"]["archive_url"] == f"{server.base_url}/web/{TS}/{FULL_URL}"
    assert [(d["position"], d["url"], d["confidence"]) for d in data["links"]] == [
        (o.position, target(i), 1.0) for i, o in enumerate(placeholders)
    ]

    # the written file is the input with exactly the 52 href spans replaced
    original = SEED.read_bytes().decode("utf-8")
    expected = original
    for i, occ in reversed(list(enumerate(placeholders))):
        assert occ.href_span is not None
        start, end = occ.href_span
        assert original[start:end] == "#"
        expected = expected[:start] + target(i) + expected[end:]
    assert out.read_bytes() == expected.encode("utf-8")
    assert src.read_bytes() == SEED.read_bytes()

    rewritten = read_article_file(out)
    assert [o.kind for o in rewritten.occurrences].count(LinkKind.PLACEHOLDER) == 0
    assert [o.url for o in rewritten.occurrences if o.position < 52] == [
        target(i) for i in range(52)
    ]


def test_seed_table_output(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = read_article_file(SEED)
    anchors = [o.anchor_text for o in seed.occurrences if o.kind is LinkKind.PLACEHOLDER]
    server.add_capture(FULL_URL, FakeCapture(TS, body=captured_original(anchors)))
    assert run(["recover", str(SEED)]) == 0
    out = capsys.readouterr().out
    assert "recovered 52 of 52 lost link targets (52 exact, 0 fuzzy); 0 unrecovered" in out
    assert f"original: {FULL_URL}" in out
