"""The table formatter's line wrapping: its shortcut for lines that fit gives textwrap's answer."""

from __future__ import annotations

import random
import textwrap

import pytest

from service.reports.table import _wrap


def _textwrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(
        text, width, break_long_words=True, break_on_hyphens=False, drop_whitespace=True
    ) or [""]


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "fits",
        "  leading spaces kept",
        "trailing space ",
        "trailing ideographic space\u3000",
        "trailing file separator\x1c",
        "tab\tinside",
        "new\nline",
        "carriage\rreturn",
        "vertical\x0btab and form\x0cfeed",
        "no-break\u00a0space",
        "exactly twenty chars",
        "twenty-one characters",
        "https://example.org/a/very/long/path/without/any/space/at/all",
    ],
)
@pytest.mark.parametrize("width", [1, 5, 20, 100])
def test_wrap_is_textwrap(text: str, width: int) -> None:
    assert _wrap(text, width) == _textwrap(text, width)


def test_wrap_is_textwrap_on_random_text() -> None:
    rnd = random.Random(11)
    pieces = ["a", "bc", " ", "  ", "-", "\t", "\n", "\r", "\x0b", "\u3000", "\u00a0", "\x85", "é"]
    for _ in range(20_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14)))
        width = rnd.randint(1, 20)
        assert _wrap(text, width) == _textwrap(text, width), (text, width)
