"""Fragment checks (`--check-fragments`): does the fetched HTML have the `#anchor`? Pure.

Browsers scroll to the element whose `id` equals the fragment, or else to an element whose
`name` does (HTML Living Standard, "find a potential indicated element"); both count here,
compared exactly (case-sensitive) after percent-decoding. `#`, `#top` and text fragments
(`#:~:text=...`) always resolve. A missing anchor is a warning on an alive link, never death.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote

from selectolax.lexbor import LexborHTMLParser


def _name(fragment: str) -> str:
    return unquote(fragment.removeprefix("#"))


def always_resolves(fragment: str) -> bool:
    """Fragments every page has: empty, `top` (HTML spec), text fragments (`:~:`)."""
    name = _name(fragment)
    return name == "" or name.lower() == "top" or name.startswith(":~:")


def anchors(html: bytes | str) -> set[str]:
    """Every `id` and `name` attribute value in an HTML document."""
    tree = LexborHTMLParser(html)
    found: set[str] = set()
    for node in tree.css("[id],[name]"):
        for attr in ("id", "name"):
            value = node.attributes.get(attr)
            if value:
                found.add(value)
    return found


def has_anchor(html: bytes | str, fragment: str) -> bool:
    """Whether the document has an element with `id` or `name` equal to the fragment."""
    return always_resolves(fragment) or _name(fragment) in anchors(html)


def missing_fragments(html: bytes | str, fragments: Iterable[str]) -> list[str]:
    """The fragments (as given, e.g. `#usage`) the document does not have, sorted, once each."""
    wanted = sorted({f for f in fragments if not always_resolves(f)})
    if not wanted:
        return []
    present = anchors(html)
    return [f for f in wanted if _name(f) not in present]


def fragment_warning(fragment: str) -> str:
    """The warning text shown for a missing anchor: `fragment #x not found`."""
    return f"fragment #{fragment.removeprefix('#')} not found"
