"""The pure half of drift: main text, tokens, scores, verdicts, settings."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.drift.fetch import raw_capture_url
from service.drift.score import (
    DriftScores,
    containment,
    score_pages,
    shingles,
    tfidf_cosine,
    title_similarity,
)
from service.drift.sweep import compare_html
from service.drift.text import PageText, extract_page, tokens
from service.drift.verdict import Thresholds, Verdict, decide, drift_score
from service.settings import ConfigError, load_settings
from tests.drift import pages

# -- text -------------------------------------------------------------------------------------


def test_tokens_are_lower_case_content_words() -> None:
    assert tokens("The Soil, and THE bacteria: 42 strains!") == [
        "soil",
        "bacteria",
        "42",
        "strains",
    ]


def test_main_text_drops_page_chrome() -> None:
    page = extract_page(pages.original())
    assert page.title == pages.ARTICLE_TITLE
    assert "polyethylene film within eleven weeks" in page.text
    for chrome in (
        "Privacy policy",
        "Subscribe",
        "Most read",
        "analytics",
        "font-family",
        "cookies",
    ):
        assert chrome not in page.text, chrome


def test_main_text_drops_comment_sections() -> None:
    page = extract_page(pages.with_comments_and_new_sidebar())
    assert "home compost bin" not in page.text
    assert "Trending" not in page.text


def test_a_page_without_article_text_still_counts_its_words() -> None:
    page = extract_page(pages.parked())
    assert 0 < page.word_count < 30
    assert "sale" in page.tokens
    assert extract_page(b"").word_count == 0


def test_bytes_are_decoded_with_their_charset() -> None:
    html = '<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body><p>x</p>'
    assert extract_page(html.encode("latin-1")).title == "Café"


# -- scores -----------------------------------------------------------------------------------


def test_tfidf_cosine_by_hand() -> None:
    idf_single = math.log(3 / 2) + 1  # smoothed idf of a term only one of the two pages has
    expected = 1 / (1 + idf_single**2)
    assert tfidf_cosine(["x", "y"], ["x", "z"]) == pytest.approx(expected)
    assert tfidf_cosine(["a", "b", "a"], ["a", "b", "a"]) == pytest.approx(1.0)
    assert tfidf_cosine(["a"], ["b"]) == 0.0
    assert tfidf_cosine([], ["b"]) == 0.0
    a, b = tokens("soil bacteria eat plastic slowly"), tokens("plastic eating bacteria in soil")
    assert tfidf_cosine(a, b) == pytest.approx(tfidf_cosine(b, a))


def test_containment_counts_the_captures_shingles_found_live() -> None:
    capture = "a b c d e f".split()
    assert len(shingles(capture)) == 3
    assert containment(capture, ["x", *capture, "y"]) == 1.0
    assert containment(capture, "a b c d x e f".split()) == pytest.approx(1 / 3)
    assert containment(["a", "b"], ["z", "a", "b"]) == 1.0  # shorter than one shingle
    assert containment([], ["a"]) == 0.0


def test_added_text_lowers_cosine_but_not_containment() -> None:
    """A comment thread twice as long as the article: cosine says changed, containment not."""
    article = " ".join(pages.PARAGRAPHS)
    chatter = " ".join(pages.COMMENTS * 3 + pages.UNRELATED * 2)
    scores = score_pages(PageText("t", article), PageText("t", article + " " + chatter))
    assert scores.cosine < 0.8
    assert scores.containment == 1.0
    assert decide(scores) is Verdict.SAME


def test_title_similarity() -> None:
    assert title_similarity("Soil bacteria | Notes", "Soil bacteria | Notes") == 1.0
    assert title_similarity("Soil bacteria eat plastic", "Menu") == 0.0
    assert title_similarity(None, "x") is None
    assert title_similarity("The", "the") == 1.0


# -- verdicts ---------------------------------------------------------------------------------


def scores(
    cosine: float, containment_: float = 0.0, capture: int = 1000, live: int = 1000
) -> DriftScores:
    return DriftScores(cosine, containment_, None, capture, live)


@pytest.mark.parametrize(
    ("given", "verdict"),
    [
        (scores(0.8), Verdict.SAME),
        (scores(0.79), Verdict.DRIFTED),
        (scores(0.3, containment_=0.7), Verdict.SAME),
        (scores(0.3, containment_=0.69), Verdict.DRIFTED),
        (scores(0.12), Verdict.DRIFTED),
        (scores(0.119), Verdict.REPLACED),
        (scores(0.5, live=300), Verdict.DRIFTED),  # fell by exactly 70 %
        (scores(0.5, live=299), Verdict.REPLACED),  # by more than 70 %
        (scores(0.0, capture=0, live=10), Verdict.ERROR),  # no capture text: no verdict
    ],
)
def test_verdict_thresholds(given: DriftScores, verdict: Verdict) -> None:
    assert decide(given) is verdict


def test_thresholds_are_configurable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    capture, rewritten = pages.original(), pages.rewritten()
    assert compare_html(capture, rewritten)[0] is Verdict.DRIFTED
    config = tmp_path / "linkwatch.toml"
    config.write_text("[drift]\nsame_cosine = 0.2\nreplaced_cosine = 0.1\n")
    settings = load_settings(config, env={"LINKWATCH_DRIFT__INTERVAL_DAYS": "7"})
    assert settings.drift.interval_days == 7
    assert (
        compare_html(capture, rewritten, Thresholds.from_settings(settings.drift))[0]
        is Verdict.SAME
    )


def test_inconsistent_thresholds_fail_at_start(tmp_path: Path) -> None:
    config = tmp_path / "linkwatch.toml"
    config.write_text("[drift]\nsame_cosine = 0.1\nreplaced_cosine = 0.5\n")
    with pytest.raises(ConfigError, match="replaced_cosine must not exceed same_cosine"):
        load_settings(config, env={})
    config.write_text("[drift]\nsame_containment = 1.5\n")
    with pytest.raises(ConfigError, match=r"drift\.same_containment"):
        load_settings(config, env={})


def test_drift_score_is_one_minus_cosine() -> None:
    assert drift_score(1.0) == 0.0
    assert drift_score(0.25) == 0.75
    assert drift_score(None) is None


def test_raw_capture_url_uses_the_configured_archive() -> None:
    when = datetime(2020, 1, 15, 9, 30, tzinfo=UTC)
    stored = "https://web.archive.org/web/20200115093000/https://example.com/a?b=1"
    assert (
        raw_capture_url(stored, when, "http://127.0.0.1:8080/", "https://example.com/a")
        == "http://127.0.0.1:8080/web/20200115093000id_/https://example.com/a?b=1"
    )
    assert raw_capture_url("garbage", when, "https://web.archive.org", "https://x.org/") == (
        "https://web.archive.org/web/20200115093000id_/https://x.org/"
    )
