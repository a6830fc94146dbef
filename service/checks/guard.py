"""The network guard: the checker's own name resolution, `--resolve` pins, private-address refusal.

The checker fetches URLs that strangers wrote, so a link must not make it talk to the
machine's own services, the local network or a cloud metadata endpoint. The guard is an
aiohttp resolver plugged into the connector: the addresses it returns are the addresses
connected to, so a name cannot resolve to one address when checked and another when used.

- Pinned names (`checks.resolve`, `--resolve HOST:IP`) resolve to their pin, and a pinned
  address is trusted even when private: the operator said so explicitly.
- Every other name is resolved by the base resolver; private answers are dropped, and when
  nothing is left the lookup fails with `PrivateTargetError` (outcome `private_target`).
- aiohttp never calls the resolver for IP literals (`http://127.0.0.1/`): `check_literal`
  guards those, called by the transport (see `client.py`) and by the checker on every hop.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable, Mapping

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from service.checks.errors import PrivateTargetError
from service.settings import parse_pin

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def private_reason(ip: IPAddress) -> str | None:
    """Why the guard refuses this address ("loopback", "private", ...), or None if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            return private_reason(inner)
        if ip.is_site_local:
            return "site-local"
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "shared (CGNAT)"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "non-global"),
    )
    return next((reason for hit, reason in checks if hit), None)


@functools.lru_cache(maxsize=4096)
def parse_ip_literal(host: str) -> IPAddress | None:
    """The address when `host` is an IP literal (IPv6 with or without brackets), else None.

    Cached: every request's host goes through it (twice), and a name fails to parse slowly."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_pins(pins: Iterable[str]) -> dict[str, str]:
    """`["host:ip", ...]` (curl's `host:port:ip` too) -> `{host: ip}`; ValueError on a bad pin."""
    return dict(parse_pin(p) for p in pins)


def _result(host: str, ip: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return ResolveResult(
        hostname=host, host=ip, port=port, family=family, proto=0, flags=socket.AI_NUMERICHOST
    )


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that honours pins and refuses private targets.

    `base` does the real lookups (default: aiohttp's ThreadedResolver, i.e. the system's
    getaddrinfo, created on first use inside the running loop). Tests pass their own
    `AbstractResolver` (e.g. `MappingResolver`, `FailingResolver`) to simulate DNS.
    """

    def __init__(
        self,
        *,
        pins: Mapping[str, str] | None = None,
        allow_private: bool = False,
        base: AbstractResolver | None = None,
    ) -> None:
        self.pins = {h.lower().rstrip("."): ip for h, ip in (pins or {}).items()}
        self.allow_private = allow_private
        self._base = base

    def check_literal(self, host: str) -> None:
        """Raise PrivateTargetError when `host` is a private IP literal and that is not allowed."""
        check_literal(host, allow_private=self.allow_private)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.lower().rstrip(".")
        pinned = self.pins.get(name)
        if pinned is not None:
            return [_result(host, pinned, port)]
        literal = parse_ip_literal(name)
        if literal is not None:  # aiohttp does not send literals here, other callers might
            self.check_literal(name)
            return [_result(host, str(literal), port)]
        if self._base is None:
            self._base = ThreadedResolver()
        answers = await self._base.resolve(host, port, family)
        if self.allow_private:
            return answers
        kept: list[ResolveResult] = []
        refused: tuple[str, str] | None = None
        for answer in answers:
            ip = parse_ip_literal(answer["host"])
            reason = "unparsable" if ip is None else private_reason(ip)
            if reason is None:
                kept.append(answer)
            elif refused is None:
                refused = (answer["host"], reason)
        if not kept:
            if refused is None:
                raise OSError(socket.EAI_NONAME, f"no address for {host}")
            raise PrivateTargetError(name, *refused)
        return kept

    async def close(self) -> None:
        if self._base is not None:
            await self._base.close()


def check_literal(host: str, *, allow_private: bool) -> None:
    """Raise PrivateTargetError when `host` is an IP literal the guard refuses."""
    if allow_private:
        return
    ip = parse_ip_literal(host)
    if ip is None:
        return
    reason = private_reason(ip)
    if reason is not None:
        raise PrivateTargetError(host, str(ip), reason)


class MappingResolver(AbstractResolver):
    """A base resolver answering from a fixed table `{name: [ip, ...]}`; unknown names fail.

    For tests and for offline setups: it simulates what DNS says, the guard still decides.
    """

    def __init__(self, table: Mapping[str, str | Iterable[str]]) -> None:
        self.table: dict[str, list[str]] = {
            name.lower().rstrip("."): [ips] if isinstance(ips, str) else list(ips)
            for name, ips in table.items()
        }
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        ips = self.table.get(host.lower().rstrip("."))
        if not ips:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [_result(host, ip, port) for ip in ips]

    async def close(self) -> None:
        return None


class FailingResolver(AbstractResolver):
    """A base resolver for which no name exists (DNS down, or the machine offline)."""

    def __init__(self, message: str = "Name or service not known") -> None:
        self.message = message
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, self.message)

    async def close(self) -> None:
        return None
