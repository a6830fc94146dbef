"""`linkwatch fix`: read an article file, rewrite its dead (and moved, and drifted) link targets,
keep every other byte: the encoding, a BOM and the line endings are those of the input."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from service.articles.extract import parse_article
from service.articles.sources import format_for_suffix, sniff_format
from service.errors import InputError, UsageError
from service.model import LinkKind
from service.reports.fix import DRIFTED_MODES, fix_text, load_link_facts, plan_fixes

MAX_BYTES = 50 * 1024 * 1024
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True, slots=True)
class RepairResult:
    data: bytes  # the repaired file, byte for byte
    text: str  # the same, decoded
    fmt: str
    http_links: int
    known_links: int
    dead_fixed: int
    dead_without_capture: int
    moved_updated: int
    robust_decorated: int
    drifted_fixed: int = 0
    drifted_decorated: int = 0
    drifted_without_capture: int = 0

    def summary(self) -> str:
        parts = [f"{self.dead_fixed} dead link(s) pointed at an archived copy"]
        if self.dead_without_capture:
            parts.append(f"{self.dead_without_capture} dead link(s) without any known capture")
        if self.drifted_fixed:
            parts.append(
                f"{self.drifted_fixed} drifted link(s) pointed at the capture the author saw"
            )
        if self.drifted_decorated:
            parts.append(
                f"{self.drifted_decorated} drifted link(s) decorated with the capture the "
                "author saw"
            )
        if self.drifted_without_capture:
            parts.append(
                f"{self.drifted_without_capture} drifted link(s) without a citation capture"
            )
        if self.moved_updated:
            parts.append(f"{self.moved_updated} moved link(s) updated")
        if self.robust_decorated:
            parts.append(f"{self.robust_decorated} link(s) decorated with Robust Links attributes")
        if self.http_links and not self.known_links:
            parts.append("no link of this article is in the database yet (run linkwatch check)")
        return "; ".join(parts)


def decode_exact(data: bytes, name: str) -> tuple[bytes, str, str]:
    """(bom, encoding, text) such that bom + text.encode(encoding) == data; InputError if none."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            try:
                return bom, encoding, body.decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(f"{name}: invalid {encoding} text ({exc.reason})") from None
    if b"\x00" in data:
        raise InputError(f"{name}: binary data (NUL bytes), not a text article")
    for encoding in ("utf-8", "windows-1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if text.encode(encoding) == data:
            return b"", encoding, text
    return b"", "latin-1", data.decode("latin-1")


def repair_bytes(
    session: Session,
    data: bytes,
    name: str,
    *,
    fmt: str | None = None,
    update_moved: bool = False,
    robust_links: bool = False,
    drifted: str = "keep",
) -> RepairResult:
    """Repair an article given as bytes (`name` is for messages and the format guess).

    `drifted`: keep (default), archive (point drifted links at their citation capture) or
    decorate (HTML: Robust Links attributes naming that capture, the live target kept)."""
    if drifted not in DRIFTED_MODES:
        raise UsageError(
            f"--drifted: unknown mode {drifted!r}; use one of {', '.join(DRIFTED_MODES)}"
        )
    bom, encoding, text = decode_exact(data, name)
    fmt = fmt or format_for_suffix(name) or sniff_format(text)
    if robust_links and fmt != "html":
        raise UsageError("--robust-links applies to HTML articles only")
    if drifted == "decorate" and fmt != "html":
        raise UsageError("--drifted decorate applies to HTML articles only (use --drifted archive)")
    article = parse_article(text, fmt, name)
    urls = sorted({o.url for o in article.occurrences if o.kind is LinkKind.HTTP and o.url})
    facts = load_link_facts(session, urls)
    plan = plan_fixes(
        article.occurrences,
        facts,
        update_moved=update_moved,
        robust_links=robust_links,
        drifted=drifted,
    )
    try:
        fixed = fix_text(text, article.occurrences, plan.replacements, fmt=fmt, robust=plan.robust)
    except ValueError as exc:
        raise InputError(f"{name}: cannot rewrite the links: {exc}") from exc
    try:
        out = bom + fixed.encode(encoding)
    except UnicodeEncodeError as exc:
        raise InputError(f"{name}: a new link target cannot be written in {encoding}") from exc
    return RepairResult(
        data=out,
        text=fixed,
        fmt=fmt,
        http_links=len(urls),
        known_links=len(facts),
        dead_fixed=plan.dead_fixed,
        dead_without_capture=plan.dead_without_capture,
        moved_updated=plan.moved_updated,
        robust_decorated=len(plan.robust) - plan.drifted_decorated,
        drifted_fixed=plan.drifted_fixed,
        drifted_decorated=plan.drifted_decorated,
        drifted_without_capture=plan.drifted_without_capture,
    )


def repair_file(
    session: Session,
    path: Path,
    *,
    update_moved: bool = False,
    robust_links: bool = False,
    drifted: str = "keep",
) -> RepairResult:
    """Read an article file and repair it (InputError when it cannot be read)."""
    name = str(path)
    try:
        if path.is_dir():
            raise InputError(f"{name}: is a directory, not an article file")
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{name}: too large (limit {MAX_BYTES} bytes)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except PermissionError:
        raise InputError(f"{name}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or type(exc).__name__})") from None
    return repair_bytes(
        session,
        data,
        name,
        update_moved=update_moved,
        robust_links=robust_links,
        drifted=drifted,
    )
