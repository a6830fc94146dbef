"""failure_of reads the real cause behind httpx-aiohttp's exception mapping."""

from __future__ import annotations

import errno
import socket

import aiohttp
import httpx
from aiohttp.client_reqrep import ConnectionKey

from service.checks.errors import ErrorKind, PrivateTargetError, failure_of

KEY = ConnectionKey("gone.test", 80, False, True, None, None, None)


def mapped(
    cause: BaseException, to: type[httpx.HTTPError] = httpx.ConnectTimeout
) -> httpx.HTTPError:
    """What httpx-aiohttp raises: an httpx exception whose __cause__ is the aiohttp one."""
    try:
        raise to(str(cause)) from cause
    except httpx.HTTPError as exc:
        return exc


def test_connect_timeout_wrappers_are_not_timeouts() -> None:
    dns = aiohttp.ClientConnectorDNSError(
        KEY, socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    )
    refused = aiohttp.ClientConnectorError(
        KEY, ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")
    )
    unreachable = aiohttp.ClientConnectorError(
        KEY, OSError(errno.ENETUNREACH, "Network is unreachable")
    )
    disconnected = aiohttp.ServerDisconnectedError()
    assert failure_of(mapped(dns))[0] is ErrorKind.DNS
    assert failure_of(mapped(refused)) == (ErrorKind.REFUSED, "connection refused")
    assert failure_of(mapped(unreachable))[0] is ErrorKind.UNREACHABLE
    assert failure_of(mapped(disconnected))[0] is ErrorKind.DISCONNECTED


def test_real_timeouts_and_others() -> None:
    assert failure_of(mapped(aiohttp.ConnectionTimeoutError("slow")))[0] is ErrorKind.TIMEOUT
    assert failure_of(httpx.ReadTimeout("slow"))[0] is ErrorKind.TIMEOUT
    assert failure_of(TimeoutError())[0] is ErrorKind.TIMEOUT
    assert failure_of(PrivateTargetError("a.test", "10.0.0.1", "private")) == (
        ErrorKind.PRIVATE,
        "a.test resolves to 10.0.0.1 (a private address)",
    )
    assert failure_of(httpx.UnsupportedProtocol("ftp"))[0] is ErrorKind.INVALID_URL
    assert failure_of(RuntimeError("odd"))[0] is ErrorKind.CONNECTION
