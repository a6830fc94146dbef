"""The pure classification table: Observation -> Outcome, and the trivial-redirect rule."""

from __future__ import annotations

import pytest

from service.checks.classify import Observation, classify, classify_status, describe, same_page
from service.checks.errors import ErrorKind
from service.model import Hop, Outcome

URL = "http://example.org/post"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (204, Outcome.OK),
        (206, Outcome.OK),
        (400, Outcome.NOT_FOUND),
        (404, Outcome.NOT_FOUND),
        (410, Outcome.NOT_FOUND),
        (401, Outcome.BLOCKED),
        (402, Outcome.BLOCKED),
        (403, Outcome.BLOCKED),
        (405, Outcome.BLOCKED),
        (406, Outcome.BLOCKED),
        (407, Outcome.BLOCKED),
        (418, Outcome.BLOCKED),
        (451, Outcome.BLOCKED),
        (999, Outcome.BLOCKED),
        (408, Outcome.TIMEOUT),
        (429, Outcome.RATE_LIMITED),
        (500, Outcome.SERVER_ERROR),
        (501, Outcome.SERVER_ERROR),
        (503, Outcome.SERVER_ERROR),
        (520, Outcome.SERVER_ERROR),
        (300, Outcome.SERVER_ERROR),
        (304, Outcome.SERVER_ERROR),
    ],
)
def test_status_table(status: int, outcome: Outcome) -> None:
    assert classify_status(status) is outcome
    assert (
        classify(Observation(url=URL, status=status, final_url=URL, hops=(Hop(URL, status),)))
        is outcome
    )


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [
        (ErrorKind.DNS, Outcome.DNS_ERROR),
        (ErrorKind.REFUSED, Outcome.REFUSED),
        (ErrorKind.UNREACHABLE, Outcome.REFUSED),
        (ErrorKind.DISCONNECTED, Outcome.REFUSED),
        (ErrorKind.CONNECTION, Outcome.REFUSED),
        (ErrorKind.TIMEOUT, Outcome.TIMEOUT),
        (ErrorKind.TLS, Outcome.TLS_ERROR),
        (ErrorKind.PROTOCOL, Outcome.SERVER_ERROR),
        (ErrorKind.BAD_REDIRECT, Outcome.SERVER_ERROR),
        (ErrorKind.PRIVATE, Outcome.PRIVATE_TARGET),
        (ErrorKind.REDIRECT_LIMIT, Outcome.TOO_MANY_REDIRECTS),
        (ErrorKind.REDIRECT_LOOP, Outcome.TOO_MANY_REDIRECTS),
        (ErrorKind.INVALID_URL, Outcome.NOT_FOUND),
    ],
)
def test_error_table(kind: ErrorKind, outcome: Outcome) -> None:
    obs = Observation(url=URL, error=kind, error_detail="detail")
    assert classify(obs) is outcome
    assert describe(obs, outcome) == "detail"


def test_every_error_kind_has_an_outcome() -> None:
    for kind in ErrorKind:
        assert isinstance(classify(Observation(url=URL, error=kind)), Outcome)


def chain(*steps: tuple[str, int]) -> Observation:
    """Observation of a chain: (url, status) pairs; each non-final step redirects to the next."""
    hops = [
        Hop(url, status, steps[i + 1][0] if i + 1 < len(steps) else None)
        for i, (url, status) in enumerate(steps)
    ]
    return Observation(
        url=steps[0][0], status=steps[-1][1], final_url=steps[-1][0], hops=tuple(hops)
    )


@pytest.mark.parametrize(
    ("steps", "outcome", "permanent"),
    [
        # Trivial permanent redirects stay ok.
        ((("http://example.org/a", 301), ("https://example.org/a", 200)), Outcome.OK, True),
        ((("http://example.org/a", 301), ("http://www.example.org/a", 200)), Outcome.OK, True),
        ((("http://www.example.org/a", 308), ("https://example.org/a/", 200)), Outcome.OK, True),
        ((("http://example.org/a/", 301), ("http://example.org/a", 200)), Outcome.OK, True),
        ((("http://example.org:80/a", 301), ("http://example.org/a", 200)), Outcome.OK, True),
        ((("http://example.org:8080/a", 301), ("https://example.org/a", 200)), Outcome.OK, True),
        # A permanent redirect to a different page is a move.
        ((("http://example.org/a", 301), ("http://example.org/b", 200)), Outcome.MOVED, True),
        ((("http://example.org/a", 308), ("http://example.com/a", 200)), Outcome.MOVED, True),
        ((("http://example.org/a", 301), ("http://example.org/A", 200)), Outcome.MOVED, True),
        (
            (("http://example.org/a?x=1", 301), ("http://example.org/a?x=2", 200)),
            Outcome.MOVED,
            True,
        ),
        (
            (("http://example.org:8080/a", 301), ("http://example.org:9090/a", 200)),
            Outcome.MOVED,
            True,
        ),
        # Temporary redirects to a working page are ok.
        ((("http://example.org/a", 302), ("http://example.org/b", 200)), Outcome.OK, False),
        ((("http://example.org/a", 303), ("http://example.org/b", 200)), Outcome.OK, False),
        ((("http://example.org/a", 307), ("http://other.org/b", 200)), Outcome.OK, False),
        # The permanent prefix decides: moved to b, then a temporary hop.
        (
            (
                ("http://example.org/a", 301),
                ("http://example.org/b", 302),
                ("http://example.org/c", 200),
            ),
            Outcome.MOVED,
            False,
        ),
        # A trivial permanent hop then a temporary one: not a move.
        (
            (
                ("http://example.org/a", 301),
                ("https://example.org/a", 302),
                ("https://example.org/z", 200),
            ),
            Outcome.OK,
            False,
        ),
        # A redirect to a dead page is dead.
        ((("http://example.org/a", 301), ("http://example.org/b", 404)), Outcome.NOT_FOUND, True),
        (
            (("http://example.org/a", 302), ("http://example.org/b", 503)),
            Outcome.SERVER_ERROR,
            False,
        ),
    ],
)
def test_redirect_chains(
    steps: tuple[tuple[str, int], ...], outcome: Outcome, permanent: bool
) -> None:
    obs = chain(*steps)
    assert classify(obs) is outcome
    assert obs.permanent_redirect is permanent


def test_no_redirect_is_never_permanent() -> None:
    obs = chain(("http://example.org/a", 200))
    assert not obs.permanent_redirect and obs.permanent_target == "http://example.org/a"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("http://example.org/x", "https://example.org/x", True),
        ("https://example.org/x", "http://example.org/x", True),
        ("http://example.org/x", "http://www.example.org/x/", True),
        ("http://EXAMPLE.org/x", "http://example.org/x#frag", True),
        ("http://example.org", "http://example.org/", True),
        ("http://example.org/x", "http://example.org/y", False),
        ("http://example.org/x", "http://example.org/x?a=1", False),
        ("http://example.org/x", "http://example.net/x", False),
        ("http://example.org:81/x", "http://example.org/x", False),
        ("http://shop.example.org/x", "http://example.org/x", False),
    ],
)
def test_same_page(a: str, b: str, same: bool) -> None:
    assert same_page(a, b) is same
    assert same_page(b, a) is same


def test_describe() -> None:
    ok = Observation(url=URL, status=200, final_url=URL)
    gone = Observation(url=URL, status=410, final_url=URL)
    assert describe(ok, classify(ok)) is None
    assert describe(gone, classify(gone)) == "HTTP 410"
