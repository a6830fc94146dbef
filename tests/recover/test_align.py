"""Aligning the original's body links to the article's placeholder links (pure)."""

from __future__ import annotations

import pytest

from service.articles.align import (
    OriginalLink,
    Placeholder,
    align_links,
    normalize_anchor,
)


def placeholders(*texts: str) -> list[Placeholder]:
    return [Placeholder(10 + i, t) for i, t in enumerate(texts)]


def originals(*pairs: tuple[str, str]) -> list[OriginalLink]:
    return [OriginalLink(url, text, i) for i, (text, url) in enumerate(pairs)]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Bad-Faith", "bad\u2014faith"),
        ("\u201cplaying\u201d", '"playing"'),
        ("Kim\u2019s letter", "Kim's  letter"),
        ("  leaves\n open room, ", "leaves open room"),
        ("(the statement)", "the statement."),
        ("NORTH KOREA", "North Korea"),
        ("soft\u00adhyphen", "softhyphen"),
        ("a \u2013 b", "a-b"),
    ],
)
def test_normalisation_ignores_what_a_copy_changes(a: str, b: str) -> None:
    assert normalize_anchor(a) == normalize_anchor(b)


def test_normalisation_keeps_what_matters() -> None:
    assert normalize_anchor("at least 13.5%") == "at least 13.5%"
    assert normalize_anchor("North Korea") != normalize_anchor("South Korea")


def test_exact_matches_with_full_confidence() -> None:
    result = align_links(
        placeholders("cancelled", "Respectful Letter"),
        originals(("respectful letter", "https://e.org/letter"), ("cancelled", "https://e.org/c")),
    )
    assert [(r.position, r.url, r.confidence, r.match) for r in result] == [
        (10, "https://e.org/c", 1.0, "exact"),
        (11, "https://e.org/letter", 1.0, "exact"),
    ]


def test_same_text_twice_recovered_in_order() -> None:
    result = align_links(
        placeholders("responded", "other", "responded", "responded"),
        originals(
            ("responded", "https://e.org/r1"),
            ("other", "https://e.org/o"),
            ("responded", "https://e.org/r2"),
            ("responded", "https://e.org/r3"),
        ),
    )
    assert [r.url for r in result] == [
        "https://e.org/r1",
        "https://e.org/o",
        "https://e.org/r2",
        "https://e.org/r3",
    ]
    assert all(r.confidence == 1.0 for r in result)


def test_more_originals_than_placeholders_pick_by_place_with_lower_confidence() -> None:
    # the copy dropped the middle "here": the first and last placeholders keep their places
    ps = [Placeholder(0, "here"), *[Placeholder(i, f"link {i}") for i in range(1, 9)]]
    ps.append(Placeholder(9, "here"))
    os_ = [OriginalLink("https://e.org/h1", "here", 0)]
    os_ += [OriginalLink(f"https://e.org/{i}", f"link {i}", i) for i in range(1, 5)]
    os_.append(OriginalLink("https://e.org/h2", "here", 5))
    os_ += [OriginalLink(f"https://e.org/{i}", f"link {i}", i + 1) for i in range(5, 9)]
    os_.append(OriginalLink("https://e.org/h3", "here", 10))
    result = align_links(ps, os_)
    assert (result[0].url, result[-1].url) == ("https://e.org/h1", "https://e.org/h3")
    assert result[0].confidence == result[-1].confidence < 1.0
    assert "3 link(s)" in (result[0].reason or "")


def test_more_placeholders_than_originals_leave_one_unrecovered() -> None:
    result = align_links(placeholders("x link", "x link"), originals(("x link", "https://e.org/x")))
    assert [r.url for r in result] == ["https://e.org/x", None]
    assert "matched to other occurrences" in (result[1].reason or "")


def test_small_differences_recovered_with_lower_confidence() -> None:
    result = align_links(
        placeholders("leaves open room", "the progress was undermined", "respectful letters"),
        originals(
            ("leave open room", "https://e.org/room"),
            ("progress was undermined", "https://e.org/progress"),
            ("respectful letter", "https://e.org/letter"),
        ),
    )
    assert [r.url for r in result] == [
        "https://e.org/room",
        "https://e.org/progress",
        "https://e.org/letter",
    ]
    for r in result:
        assert r.match == "fuzzy"
        assert 0.8 <= r.confidence < 1.0
    assert result[0].original_text == "leave open room"


def test_absent_text_is_never_given_a_target() -> None:
    result = align_links(
        placeholders("a totally different phrase", "USA", ""),
        originals(("an unrelated anchor", "https://e.org/u"), ("US", "https://e.org/us")),
    )
    assert [r.url for r in result] == [None, None, None]
    assert all(r.confidence == 0.0 and r.match == "none" for r in result)
    assert result[0].reason == "no link with this anchor text in the original"
    assert "closest: 'US'" in (result[1].reason or "")  # short texts are never fuzzy-matched
    assert result[2].reason == "the link has no anchor text to match"


def test_each_original_link_used_once() -> None:
    result = align_links(
        placeholders("the statement", "the statements", "statement the"),
        originals(("the statement", "https://e.org/s")),
    )
    assert [r.url for r in result].count("https://e.org/s") == 1
    assert result[0].url == "https://e.org/s"


def test_fuzzy_prefers_the_better_match() -> None:
    result = align_links(
        placeholders("doubled-down on it"),
        originals(
            ("doubled down on", "https://e.org/a"), ("doubled-down on it!", "https://e.org/b")
        ),
    )
    assert (result[0].url, result[0].match) == ("https://e.org/b", "exact")
