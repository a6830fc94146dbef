"""Drift verdicts from scores. Pure.

Defaults from the published studies: Fable (Klein et al.) counts a TF-IDF cosine below 0.8 as
"significantly modified"; the Off-Topic Memento Toolkit (Jones et al.) calls a memento
off-topic below a cosine of 0.12 or when its word count fell by more than 70 %.

Rules, in order:
1. `same`: cosine >= same_cosine, or containment >= same_containment (what was cited is still
   there, whatever was added around it);
2. `replaced`: cosine < replaced_cosine, or the word count fell by more than
   replaced_word_drop (the page is now about something else, or nearly empty);
3. `drifted`: everything between.
A capture without any main text gives no verdict (`error`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.drift.score import DriftScores
from service.settings import DriftSettings


class Verdict(StrEnum):
    SAME = "same"
    DRIFTED = "drifted"
    REPLACED = "replaced"
    ERROR = "error"  # no verdict: something could not be fetched or read (retried later)


@dataclass(frozen=True, slots=True)
class Thresholds:
    same_cosine: float = 0.8
    same_containment: float = 0.7
    replaced_cosine: float = 0.12
    replaced_word_drop: float = 0.7

    @classmethod
    def from_settings(cls, settings: DriftSettings) -> Thresholds:
        return cls(
            same_cosine=settings.same_cosine,
            same_containment=settings.same_containment,
            replaced_cosine=settings.replaced_cosine,
            replaced_word_drop=settings.replaced_word_drop,
        )


def decide(scores: DriftScores, thresholds: Thresholds = Thresholds()) -> Verdict:
    """The verdict of one comparison (see the module docstring)."""
    if scores.word_count_capture <= 0:
        return Verdict.ERROR
    t = thresholds
    if scores.cosine >= t.same_cosine or scores.containment >= t.same_containment:
        return Verdict.SAME
    if scores.cosine < t.replaced_cosine or scores.word_drop > t.replaced_word_drop:
        return Verdict.REPLACED
    return Verdict.DRIFTED


def drift_score(cosine: float | None) -> float | None:
    """The single number reports show (`drift_score`): 1 - cosine, 0 = unchanged, 1 = unrelated."""
    if cosine is None:
        return None
    return round(max(0.0, min(1.0, 1.0 - cosine)), 4)
