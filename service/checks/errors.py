"""Failures inside the checker, and how a raised exception becomes a kind of failure.

These exceptions never reach a user: the checker turns every network problem into an
`Observation` with an `ErrorKind` (see `failure_of`), then `classify` maps it to an `Outcome`.
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import Iterator
from enum import StrEnum

import aiohttp
import httpx


class CheckError(Exception):
    """Base of the exceptions raised inside the checker's own machinery."""


class PrivateTargetError(CheckError):
    """A target resolves to (or is) an address the network guard refuses.

    Deliberately not an OSError: aiohttp lets it through its connector unchanged, and the
    httpx-aiohttp transport re-raises it as is, so the checker sees it directly.
    """

    def __init__(self, host: str, address: str, reason: str) -> None:
        literal = host.strip("[]") == address
        super().__init__(
            f"{address} is a {reason} address"
            if literal
            else f"{host} resolves to {address} (a {reason} address)"
        )
        self.host = host
        self.address = address
        self.reason = reason


class ErrorKind(StrEnum):
    """What went wrong before a complete answer arrived (the input of `classify`)."""

    DNS = "dns"  # the name does not resolve
    REFUSED = "refused"  # connection refused
    UNREACHABLE = "unreachable"  # no route to the host or network
    DISCONNECTED = "disconnected"  # connection closed or reset before any response
    TIMEOUT = "timeout"  # the check's deadline (or a connect/read timeout) expired
    TLS = "tls"  # certificate or handshake failure
    PROTOCOL = "protocol"  # the server's answer is not valid HTTP
    PRIVATE = "private"  # refused by the network guard
    REDIRECT_LIMIT = "redirect_limit"  # more redirects than allowed
    REDIRECT_LOOP = "redirect_loop"  # a redirect came back to a request already made
    BAD_REDIRECT = "bad_redirect"  # a 3xx whose Location is missing, invalid or not http(s)
    INVALID_URL = "invalid_url"  # the URL itself cannot be requested
    CONNECTION = "connection"  # any other transport failure


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and contexts, each once (outermost first)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        if isinstance(cur, aiohttp.ClientConnectorError):
            todo.append(cur.os_error)
        for nxt in (cur.__cause__, cur.__context__):
            if nxt is not None:
                todo.append(nxt)


def _errno_in(chain: list[BaseException], codes: set[int]) -> bool:
    return any(isinstance(e, OSError) and e.errno in codes for e in chain)


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL}


def failure_of(exc: BaseException) -> tuple[ErrorKind, str]:
    """The kind of a failure and a short detail for humans, from the exception and its causes.

    httpx-aiohttp maps aiohttp's exceptions to httpx ones (connection refused and DNS failures
    both become `httpx.ConnectTimeout`/`ConnectError`), so the real aiohttp exception is read
    from `__cause__`. The most specific cause wins, in the order below.
    """
    chain = list(_chain(exc))

    def first(kind: type[BaseException] | tuple[type[BaseException], ...]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, kind)), None)

    if (found := first(PrivateTargetError)) is not None:
        return ErrorKind.PRIVATE, str(found)
    if (found := first(aiohttp.ClientConnectorDNSError)) is not None:
        assert isinstance(found, aiohttp.ClientConnectorDNSError)
        return (
            ErrorKind.DNS,
            f"cannot resolve {found.host}: {found.os_error.strerror or found.os_error}",
        )
    if (
        found := first((aiohttp.ClientSSLError, ssl.SSLError, aiohttp.ServerFingerprintMismatch))
    ) is not None:
        return ErrorKind.TLS, f"TLS failure: {_tls_detail(found)}"
    if first(ConnectionRefusedError) is not None or _errno_in(chain, {errno.ECONNREFUSED}):
        return ErrorKind.REFUSED, "connection refused"
    # httpx.TimeoutException alone proves nothing: httpx-aiohttp maps every aiohttp
    # connection error to httpx.ConnectTimeout. Only trust it when aiohttp said nothing.
    if (
        first(TimeoutError) is not None  # aiohttp's timeouts and the check's deadline
        or _errno_in(chain, {errno.ETIMEDOUT})
        or (first(httpx.TimeoutException) is not None and first(aiohttp.ClientError) is None)
    ):
        return ErrorKind.TIMEOUT, "no complete answer in time"
    if _errno_in(chain, _UNREACHABLE):
        return ErrorKind.UNREACHABLE, "network or host unreachable"
    if first((aiohttp.ServerDisconnectedError, ConnectionResetError, ConnectionAbortedError)):
        return ErrorKind.DISCONNECTED, "the server closed the connection without an answer"
    if (found := first((aiohttp.ClientResponseError, aiohttp.ClientPayloadError))) is not None:
        text = found.message if isinstance(found, aiohttp.ClientResponseError) else str(found)
        return ErrorKind.PROTOCOL, f"not a valid HTTP answer: {_short(text, 120)}"
    if (
        found := first((httpx.UnsupportedProtocol, httpx.InvalidURL, aiohttp.InvalidURL))
    ) is not None:
        return ErrorKind.INVALID_URL, f"invalid URL: {_short(found)}"
    if (found := first(aiohttp.ClientConnectorError)) is not None:
        return ErrorKind.CONNECTION, f"cannot connect: {_short(found)}"
    return ErrorKind.CONNECTION, f"{type(exc).__name__}: {_short(exc)}"


def _tls_detail(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        return getattr(cert, "verify_message", None) or _short(cert)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or _short(exc)
    if isinstance(exc, ssl.SSLError):
        return exc.reason or _short(exc)
    return _short(exc)


def _short(exc: BaseException | str, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
