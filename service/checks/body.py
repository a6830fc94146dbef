"""Bounded body reading: at most N decompressed bytes, whatever the server sends.

The transport hands over raw bytes (httpx-aiohttp asks aiohttp not to decompress); the checker
decodes them itself with a maximum output length, so a gzip bomb expands to at most the cap,
and never holds more than the cap (plus one network chunk) in memory.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import AsyncIterator
from html import unescape


class BoundedDecoder:
    """Decode a Content-Encoding (identity, gzip, x-gzip, deflate) into at most `cap` bytes.

    Unknown encodings (br, zstd, stacked encodings) are kept raw: the checker never asks for
    them (Accept-Encoding: gzip, deflate), and a status code does not need the body.
    """

    def __init__(self, content_encoding: str | None, cap: int) -> None:
        encoding = (content_encoding or "identity").strip().lower()
        self.cap = cap
        self.out = bytearray()
        self.raw_bytes = 0
        self.encoding = encoding
        self.decoded = encoding in {"gzip", "x-gzip", "deflate"}
        self._deflate = encoding == "deflate"
        self._obj: zlib._Decompress | None = None
        if encoding in {"gzip", "x-gzip"}:
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._deflate:
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)  # zlib-wrapped; raw deflate on retry
        self.error: str | None = None

    @property
    def full(self) -> bool:
        return len(self.out) >= self.cap

    @property
    def eof(self) -> bool:
        return self._obj is not None and self._obj.eof

    def feed(self, chunk: bytes) -> None:
        """Add raw bytes; stops growing at `cap`. A corrupt stream sets `error` and stops."""
        self.raw_bytes += len(chunk)
        if self.full or self.error:
            return
        if self._obj is None:
            self.out += chunk[: self.cap - len(self.out)]
            return
        data = chunk
        while data and not self.full and not self._obj.eof:
            try:
                piece = self._obj.decompress(data, self.cap - len(self.out))
            except zlib.error as exc:
                if self._deflate and self.raw_bytes == len(chunk) and not self.out:
                    # Servers often send raw deflate without the zlib header.
                    self._deflate = False
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                self.error = f"corrupt {self.encoding} body: {exc}"
                return
            self.out += piece
            data = self._obj.unconsumed_tail


async def read_bounded(
    chunks: AsyncIterator[bytes], content_encoding: str | None, cap: int
) -> BoundedDecoder:
    """Read raw chunks until `cap` decoded bytes, the end of the stream or the end of the body.

    Also stops after 4 x cap + 64 KiB raw bytes that decode to nothing (endless empty blocks).
    The caller closes the response afterwards (the rest is never read).
    """
    decoder = BoundedDecoder(content_encoding, cap)
    raw_limit = 4 * cap + 64 * 1024
    async for chunk in chunks:
        decoder.feed(chunk)
        if decoder.full or decoder.eof or decoder.error or decoder.raw_bytes >= raw_limit:
            break
    return decoder


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)


def charset_of(content_type: str | None) -> str:
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else "utf-8"


def extract_title(body: bytes, content_type: str | None = None) -> str | None:
    """The text of the first `<title>` in an HTML body (whitespace collapsed), or None."""
    match = _TITLE.search(body[: 64 * 1024])
    if match is None:
        return None
    try:
        text = match.group(1).decode(charset_of(content_type), errors="replace")
    except LookupError:
        text = match.group(1).decode("utf-8", errors="replace")
    title = " ".join(unescape(text).split())
    return title[:300] or None
