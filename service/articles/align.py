"""Which link of the original article each lost (`#`) link was: alignment by anchor text.

Pure: no I/O. `align_links(placeholders, originals)` returns one `Recovery` per placeholder,
in the placeholders' order:

1. Anchor texts are compared normalised (`normalize_anchor`): Unicode compatibility forms,
   case, whitespace, curly quotes, dashes, invisible characters and surrounding punctuation
   do not count.
2. Exact matches first. A text used k times in the article and k times in the original is
   paired in order (confidence 1.0). When the counts differ, the pairing keeps the order and
   picks the links at the closest relative places (confidence `AMBIGUOUS_CONFIDENCE`).
3. Then fuzzy matches for small differences: similarity is the better of difflib's ratio and
   0.95 x the word overlap (Dice) of the normalised texts; pairs at or above `FUZZY_MIN`, best
   first (ties: closest relative place), texts of at least `FUZZY_MIN_CHARS` characters.
   The confidence is the similarity, always below 1.
4. Each original link is used at most once. A placeholder that matches nothing keeps no
   target and says why (`reason`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

AMBIGUOUS_CONFIDENCE = 0.9
FUZZY_MIN = 0.8
FUZZY_MIN_CHARS = 4
FUZZY_MAX_CONFIDENCE = 0.99
CLOSEST_HINT_MIN = 0.5
WORD_OVERLAP_WEIGHT = 0.95  # the same words in another order are not the same text

EXACT = "exact"
FUZZY = "fuzzy"
NONE = "none"

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\ufe58": "-",
        "\ufe63": "-",
        "\uff0d": "-",
        "\u00ad": None,  # soft hyphen
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
    }
)
_SPACE_AROUND_DASH = re.compile(r"\s*-\s*")


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A link of the article whose target was lost."""

    position: int  # its position among the article's occurrences
    anchor_text: str


@dataclass(frozen=True, slots=True)
class OriginalLink:
    """A link of the original article (its body), with its target recovered."""

    url: str
    anchor_text: str
    position: int  # order among the original's body links


@dataclass(frozen=True, slots=True)
class Recovery:
    """What became of one placeholder."""

    position: int
    anchor_text: str
    url: str | None  # the recovered target; None: unrecovered
    confidence: float  # 1.0 exact; below 1 ambiguous or fuzzy; 0.0 unrecovered
    match: str  # "exact" | "fuzzy" | "none"
    original_text: str | None = None  # the original link's anchor text
    original_position: int | None = None
    reason: str | None = None  # why it is unrecovered, or what is uncertain about it

    @property
    def recovered(self) -> bool:
        return self.url is not None


def normalize_anchor(text: str) -> str:
    """Anchor text for comparing: case, spacing, quotes, dashes and outer punctuation ignored."""
    folded = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    folded = " ".join(folded.split())
    folded = _SPACE_AROUND_DASH.sub("-", folded) if "-" in folded else folded
    start, end = 0, len(folded)
    while start < end and _outer(folded[start]):
        start += 1
    while end > start and _outer(folded[end - 1]):
        end -= 1
    return folded[start:end]


def _outer(ch: str) -> bool:
    return ch.isspace() or (unicodedata.category(ch)[0] in {"P", "S"} and ch not in "%$€£#+")


def similarity(a: str, b: str) -> float:
    """Similarity of two normalised texts in [0, 1]: difflib ratio or (weighted) word Dice."""
    if not a or not b:
        return 0.0
    ratio = SequenceMatcher(None, a, b, autojunk=False).ratio()
    wa, wb = a.split(), b.split()
    common = sum(min(wa.count(w), wb.count(w)) for w in set(wa))
    dice = 2 * common / (len(wa) + len(wb))
    return max(ratio, WORD_OVERLAP_WEIGHT * dice)


def _relative(index: int, count: int) -> float:
    return index / (count - 1) if count > 1 else 0.5


def _ordered_pairs(left: Sequence[float], right: Sequence[float]) -> list[tuple[int, int]]:
    """Order-keeping pairs (i, j), as many as the shorter side has, closest places first."""
    swap = len(left) > len(right)
    small, large = (right, left) if swap else (left, right)
    n, m = len(small), len(large)
    inf = float("inf")
    # cost[i][j]: best cost pairing small[:i] inside large[:j]
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    for j in range(m + 1):
        cost[0][j] = 0.0
    for i in range(1, n + 1):
        for j in range(i, m + 1):
            take = cost[i - 1][j - 1] + abs(small[i - 1] - large[j - 1])
            cost[i][j] = min(cost[i][j - 1], take)
    pairs: list[tuple[int, int]] = []
    i, j = n, m
    while i > 0:
        if j > i and cost[i][j] == cost[i][j - 1]:
            j -= 1
            continue
        pairs.append((i - 1, j - 1))
        i -= 1
        j -= 1
    pairs.reverse()
    return [(b, a) for a, b in pairs] if swap else pairs


def align_links(
    placeholders: Sequence[Placeholder], originals: Sequence[OriginalLink]
) -> list[Recovery]:
    """One Recovery per placeholder, in order (see the module docstring)."""
    p_keys = [normalize_anchor(p.anchor_text) for p in placeholders]
    o_keys = [normalize_anchor(o.anchor_text) for o in originals]
    p_rel = [_relative(i, len(placeholders)) for i in range(len(placeholders))]
    o_rel = [_relative(i, len(originals)) for i in range(len(originals))]
    chosen: dict[int, tuple[int, float, str]] = {}  # placeholder index -> (original, conf, match)
    used: set[int] = set()

    # 1. exact matches, order kept
    by_key_p: dict[str, list[int]] = {}
    by_key_o: dict[str, list[int]] = {}
    for i, key in enumerate(p_keys):
        if key:
            by_key_p.setdefault(key, []).append(i)
    for j, key in enumerate(o_keys):
        if key:
            by_key_o.setdefault(key, []).append(j)
    for key, p_idx in by_key_p.items():
        o_idx = by_key_o.get(key, [])
        if not o_idx:
            continue
        confidence = 1.0 if len(o_idx) == len(p_idx) else AMBIGUOUS_CONFIDENCE
        pairs = _ordered_pairs([p_rel[i] for i in p_idx], [o_rel[j] for j in o_idx])
        for a, b in pairs:
            chosen[p_idx[a]] = (o_idx[b], confidence, EXACT)
            used.add(o_idx[b])

    # 2. fuzzy matches among what is left, best first
    open_p = [i for i, k in enumerate(p_keys) if i not in chosen and len(k) >= FUZZY_MIN_CHARS]
    open_o = [j for j, k in enumerate(o_keys) if j not in used and len(k) >= FUZZY_MIN_CHARS]
    scored: list[tuple[float, float, int, int]] = []
    for i in open_p:
        for j in open_o:
            score = similarity(p_keys[i], o_keys[j])
            if score >= FUZZY_MIN:
                scored.append((-score, abs(p_rel[i] - o_rel[j]), i, j))
    scored.sort()
    for neg_score, _, i, j in scored:
        if i in chosen or j in used:
            continue
        chosen[i] = (j, min(FUZZY_MAX_CONFIDENCE, round(-neg_score, 2)), FUZZY)
        used.add(j)

    return [
        _recovery(
            p,
            key=p_keys[i],
            choice=chosen.get(i),
            originals=originals,
            o_keys=o_keys,
            by_key_o=by_key_o,
        )
        for i, p in enumerate(placeholders)
    ]


def _recovery(
    placeholder: Placeholder,
    *,
    key: str,
    choice: tuple[int, float, str] | None,
    originals: Sequence[OriginalLink],
    o_keys: Sequence[str],
    by_key_o: dict[str, list[int]],
) -> Recovery:
    if choice is not None:
        j, confidence, match = choice
        original = originals[j]
        reason = None
        if match == FUZZY:
            reason = "anchor text differs slightly from the original"
        elif confidence < 1.0:
            count = len(by_key_o.get(key, []))
            reason = f"the original has this text on {count} link(s); matched by position"
        return Recovery(
            position=placeholder.position,
            anchor_text=placeholder.anchor_text,
            url=original.url,
            confidence=confidence,
            match=match,
            original_text=original.anchor_text,
            original_position=original.position,
            reason=reason,
        )
    return Recovery(
        position=placeholder.position,
        anchor_text=placeholder.anchor_text,
        url=None,
        confidence=0.0,
        match=NONE,
        reason=_why_not(key, originals, o_keys, by_key_o),
    )


def _why_not(
    key: str,
    originals: Sequence[OriginalLink],
    o_keys: Sequence[str],
    by_key_o: dict[str, list[int]],
) -> str:
    if not key:
        return "the link has no anchor text to match"
    same = by_key_o.get(key, [])
    if same:
        return (
            f"the original has this text on {len(same)} link(s) only, "
            "all matched to other occurrences"
        )
    best, best_j = 0.0, -1
    for j, other in enumerate(o_keys):
        score = similarity(key, other)
        if score > best:
            best, best_j = score, j
    if best >= CLOSEST_HINT_MIN:
        return (
            "no link with this anchor text in the original "
            f"(closest: {originals[best_j].anchor_text!r}, similarity {best:.2f})"
        )
    return "no link with this anchor text in the original"
