"""Bounded body decoding, <title> extraction and Retry-After parsing (pure parts of the checker)."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from service.checks.body import BoundedDecoder, extract_title, read_bounded
from service.checks.headers import parse_retry_after


def compress(data: bytes, wbits: int) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return comp.compress(data) + comp.flush()


PAGE = (
    b"<html><head><title> Hello \n  &amp; welcome </title></head><body>"
    + b"x" * 5000
    + b"</body></html>"
)


@pytest.mark.parametrize(
    ("encoding", "wire"),
    [
        (None, PAGE),
        ("identity", PAGE),
        ("gzip", compress(PAGE, 16 + zlib.MAX_WBITS)),
        ("x-gzip", compress(PAGE, 16 + zlib.MAX_WBITS)),
        ("deflate", compress(PAGE, zlib.MAX_WBITS)),
        ("deflate", compress(PAGE, -zlib.MAX_WBITS)),  # raw deflate, as many servers send it
    ],
)
def test_decoder_decodes_and_caps(encoding: str | None, wire: bytes) -> None:
    whole = BoundedDecoder(encoding, cap=1 << 20)
    for i in range(0, len(wire), 7):
        whole.feed(wire[i : i + 7])
    assert bytes(whole.out) == PAGE and whole.error is None
    capped = BoundedDecoder(encoding, cap=1024)
    capped.feed(wire)
    assert bytes(capped.out) == PAGE[:1024] and capped.full


def test_decoder_caps_a_bomb_and_flags_corruption() -> None:
    bomb = compress(bytes(50 << 20), 16 + zlib.MAX_WBITS)  # 50 MiB of zeros in ~50 KB
    decoder = BoundedDecoder("gzip", cap=4096)
    decoder.feed(bomb)
    assert len(decoder.out) == 4096
    corrupt = BoundedDecoder("gzip", cap=4096)
    corrupt.feed(b"\x1f\x8b\x08\x00garbage-garbage-garbage")
    assert corrupt.error is not None and corrupt.error.startswith("corrupt gzip body")
    unknown = BoundedDecoder("br", cap=4)
    unknown.feed(b"\xff\xfe\xfd\xfc\xfb")
    assert bytes(unknown.out) == b"\xff\xfe\xfd\xfc" and not unknown.decoded


async def test_read_bounded_stops_on_endless_input() -> None:
    produced = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal produced
        while True:
            produced += 1
            yield b"a" * 1000

    decoder = await read_bounded(endless(), None, cap=10_000)
    assert len(decoder.out) == 10_000 and produced == 10

    async def empty_blocks() -> AsyncIterator[bytes]:
        # An endless deflate stream that decodes to nothing: stopped by the raw-bytes limit.
        empty_stored_block = b"\x00\x00\x00\xff\xff"
        while True:
            yield empty_stored_block * 1000

    nothing = await read_bounded(empty_blocks(), "deflate", cap=1024)
    assert nothing.out == bytearray() and nothing.raw_bytes >= 4 * 1024


def test_extract_title() -> None:
    assert extract_title(PAGE) == "Hello & welcome"
    assert extract_title(b"<TITLE lang=en>Caf\xe9</TITLE>", "text/html; charset=latin-1") == "Café"
    assert extract_title(b"<title>x</title>", "text/html; charset=nonsense") == "x"
    assert extract_title(b"<p>no title</p>") is None
    assert extract_title(b"<title>   </title>") is None


NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("120", 60.0),  # capped
        ("45", 45.0),
        (" 0 ", 0.0),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),  # in the past
        ("Wed, 01 May 2024 13:00:00 GMT", 60.0),  # capped
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW, cap_s=60) == expected


def test_parse_retry_after_uncapped() -> None:
    assert parse_retry_after("7200", NOW) == 7200.0
