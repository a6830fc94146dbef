"""Drift scores of a live page against its capture. Pure functions, no numpy.

- `tfidf_cosine`: cosine similarity of the TF-IDF vectors of the two token lists, the IDF
  computed over just these two documents and smoothed like scikit-learn's default
  (idf = ln((1 + n) / (1 + df)) + 1, n = 2): a word both pages use weighs 1, a word only one
  page uses weighs 1 + ln(1.5). Raw term counts as TF.
- `containment`: the share of the capture's 4-word shingles (consecutive tokens) found in the
  live page. Text added later (a comment section, a new sidebar, a banner) lowers cosine but
  not containment: it measures whether what was cited is still there.
- `title_similarity`: Jaccard similarity of the two titles' token sets.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from service.drift.text import PageText, tokens, words

SHINGLE_SIZE = 4


def tfidf_cosine(a: Sequence[str], b: Sequence[str]) -> float:
    """Cosine of the TF-IDF vectors of two token lists (1.0 for two empty lists)."""
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    ca, cb = Counter(a), Counter(b)
    shared_idf = 1.0  # ln(3 / 3) + 1
    single_idf = math.log(3 / 2) + 1.0
    dot = 0.0
    for term, count in ca.items():
        other = cb.get(term)
        if other:
            dot += count * other * shared_idf * shared_idf

    def norm(mine: Counter[str], theirs: Counter[str]) -> float:
        total = 0.0
        for term, count in mine.items():
            idf = shared_idf if term in theirs else single_idf
            total += (count * idf) ** 2
        return math.sqrt(total)

    return min(1.0, dot / (norm(ca, cb) * norm(cb, ca)))


def shingles(seq: Sequence[str], size: int = SHINGLE_SIZE) -> set[tuple[str, ...]]:
    """The set of `size` consecutive tokens; a shorter non-empty sequence is one shingle."""
    if not seq:
        return set()
    if len(seq) < size:
        return {tuple(seq)}
    return {tuple(seq[i : i + size]) for i in range(len(seq) - size + 1)}


def containment(capture: Sequence[str], live: Sequence[str], size: int = SHINGLE_SIZE) -> float:
    """|S(capture) ∩ S(live)| / |S(capture)| over `size`-token shingles (0.0: no capture text)."""
    mine = shingles(capture, size)
    if not mine:
        return 0.0
    n = min(size, len(capture))
    theirs = shingles(live, n)
    return len(mine & theirs) / len(mine)


def title_similarity(a: str | None, b: str | None) -> float | None:
    """Jaccard similarity of the titles' tokens (stopwords kept if nothing else remains)."""
    if not a or not b:
        return None
    ta = set(tokens(a)) or set(words(a))
    tb = set(tokens(b)) or set(words(b))
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


@dataclass(frozen=True, slots=True)
class DriftScores:
    """The measures of one comparison, stored with its verdict."""

    cosine: float
    containment: float
    title_similarity: float | None
    word_count_capture: int
    word_count_live: int

    @property
    def word_drop(self) -> float:
        """How much of the capture's word count the live page lost (0.75: fell by 75 %)."""
        if self.word_count_capture <= 0:
            return 0.0
        return max(0.0, (self.word_count_capture - self.word_count_live) / self.word_count_capture)


def score_pages(capture: PageText, live: PageText) -> DriftScores:
    """Every drift measure of the live page against the capture."""
    return DriftScores(
        cosine=round(tfidf_cosine(capture.tokens, live.tokens), 6),
        containment=round(containment(capture.tokens, live.tokens), 6),
        title_similarity=(
            None if (sim := title_similarity(capture.title, live.title)) is None else round(sim, 6)
        ),
        word_count_capture=capture.word_count,
        word_count_live=live.word_count,
    )
