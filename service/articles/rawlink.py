"""What the extractors find before classification, and line bookkeeping over the source text."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

NEWLINE_RE = re.compile(r"\r\n|\r|\n")  # the line breaks markdown-it counts


@dataclass(frozen=True, slots=True)
class RawLink:
    """One hyperlink as found in the source, not yet classified."""

    href: str  # exactly as written in the source (text[span[0]:span[1]] == href when span is set)
    target: str  # what the href means once escapes/entities are decoded: classified later
    anchor_text: str  # whitespace-collapsed
    line: int  # 1-based line where the link starts
    span: tuple[int, int] | None  # [start, end) character offsets of href in the source text


class LineTable:
    """Line starts of a text (``\\r\\n``, ``\\r`` and ``\\n`` all end a line)."""

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0]
        ends: list[int] = []
        for match in NEWLINE_RE.finditer(text):
            ends.append(match.start())
            starts.append(match.end())
        ends.append(len(text))
        self.starts = starts
        self.ends = ends

    def __len__(self) -> int:
        return len(self.starts)

    def line_number(self, offset: int) -> int:
        """1-based line of a character offset."""
        return bisect_right(self.starts, offset)

    def line(self, index: int) -> str:
        """The text of a 0-based line, without its line break ("" past the end)."""
        if 0 <= index < len(self.starts):
            return self.text[self.starts[index] : self.ends[index]]
        return ""

    def start(self, index: int) -> int:
        """Character offset of a 0-based line (the text's end past the end)."""
        if 0 <= index < len(self.starts):
            return self.starts[index]
        return len(self.text)


def collapse_spaces(text: str) -> str:
    """Whitespace runs become one space; leading/trailing whitespace removed."""
    return " ".join(text.split())
