"""Drift scoring cost per link on 200-KB pages: main-text extraction of both pages + scores.

    .venv/bin/python benchmarks/drift_bench.py [--links 30] [--kb 200]

Prints one line, e.g. `drift scoring: 200 KB pages: 95.1 ms per link (median of 30; ...)`.
No network: the pages are generated (article prose inside navigation, sidebar, comments,
footer and scripts), the live page a rewritten variant of the capture, so every measure
(TF-IDF cosine, shingle containment, title similarity) does real work.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from service.drift.sweep import compare_html

_VOCAB_TEXT = (
    "soil bacteria plastic film enzyme compost trial station weeks degrees carbon chains fungi "
    "laboratory measurements researchers municipal waste packaging funding analysis data paper "
    "results spring culture collection strain season weight trays sterile control humid warm "
    "northern europe oxidise process landfill benefit microbiologists additives dyes microbes"
)
VOCAB = _VOCAB_TEXT.split(" ")
FILLER = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "that",
    "is",
    "was",
    "for",
    "on",
    "with",
    "as",
    "by",
    "at",
    "from",
]


def prose(rng: random.Random, words: int) -> str:
    out = []
    for i in range(words):
        out.append(rng.choice(VOCAB) if i % 3 else rng.choice(FILLER))
    return " ".join(out).capitalize() + "."


def page(rng: random.Random, title: str, target_bytes: int) -> str:
    chrome = (
        "<header><nav>" + "".join(f"<a href='/s{i}'>Section {i}</a>" for i in range(40)) + "</nav>"
        "</header><script>" + "var x = 1;" * 500 + "</script>"
    )
    side = "<aside>" + "".join(f"<p>{prose(rng, 12)}</p>" for _ in range(20)) + "</aside>"
    foot = "<footer>" + "".join(f"<a href='/f{i}'>Link {i}</a>" for i in range(60)) + "</footer>"
    paragraphs: list[str] = []
    size = len(chrome) + len(side) + len(foot) + 200
    while size < target_bytes:
        p = f"<p>{prose(rng, 90)}</p>"
        paragraphs.append(p)
        size += len(p)
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>{chrome}"
        f"<main><article><h1>{title}</h1>{''.join(paragraphs)}</article></main>{side}{foot}"
        "</body></html>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--links", type=int, default=30)
    parser.add_argument("--kb", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(11)
    pairs = []
    for i in range(args.links):
        capture = page(rng, f"Article {i} | Site", args.kb * 1024)
        live = page(rng, f"Article {i} revisited | Site", args.kb * 1024)
        pairs.append((capture, live))
    compare_html(*pairs[0])  # warm-up: imports, lazy tables
    times = []
    for capture, live in pairs:
        start = time.perf_counter()
        compare_html(capture, live)
        times.append((time.perf_counter() - start) * 1000)
    sizes = statistics.mean(len(c.encode()) + len(v.encode()) for c, v in pairs) / 2 / 1024
    print(
        f"drift scoring: {args.kb} KB pages: {statistics.median(times):.1f} ms per link "
        f"(median of {args.links}; mean {statistics.mean(times):.1f} ms, "
        f"max {max(times):.1f} ms; pages {sizes:.0f} KB; extract both pages + cosine, "
        "containment, title)"
    )


if __name__ == "__main__":
    main()
