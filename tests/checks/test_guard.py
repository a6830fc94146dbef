"""The network guard, both ways: private targets refused by default, allowed on request."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from service.checks.checker import Checker
from service.checks.client import build_client
from service.checks.config import with_cli_overrides
from service.checks.errors import PrivateTargetError
from service.checks.guard import (
    FailingResolver,
    GuardedResolver,
    MappingResolver,
    parse_ip_literal,
    parse_pins,
    private_reason,
)
from service.errors import UsageError
from service.model import Outcome
from service.settings import ChecksSettings
from tests.checks.conftest import make_settings
from tests.support.farm import LinkFarm


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "private"),  # Python files 240/4 under is_private as well as is_reserved
        ("255.255.255.255", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.5", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a00:5", "private"),  # NAT64 wrapping 10.0.0.5
        ("8.8.8.8", None),
        ("93.184.216.34", None),
        ("::ffff:8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_private_reason(address: str, reason: str | None) -> None:
    assert private_reason(ipaddress.ip_address(address)) == reason


def test_parse_pins_and_literals() -> None:
    assert parse_pins(["Farm.Test.:127.0.0.2", "v6.test:[::1]", "curl.test:443:10.0.0.1"]) == {
        "farm.test": "127.0.0.2",
        "v6.test": "::1",
        "curl.test": "10.0.0.1",
    }
    with pytest.raises(ValueError, match="not an IP address"):
        parse_pins(["farm.test:nowhere"])
    assert parse_ip_literal("[::1]") == ipaddress.ip_address("::1")
    assert parse_ip_literal("example.org") is None


BASE = MappingResolver(
    {
        "internal.test": "10.0.0.5",
        "metadata.test": "169.254.169.254",
        "six.test": "::1",
        "mixed.test": ["10.0.0.7", "93.184.216.34"],
        "public.test": "93.184.216.34",
    }
)


@pytest.mark.parametrize(
    ("name", "address"),
    [("internal.test", "10.0.0.5"), ("metadata.test", "169.254.169.254"), ("six.test", "::1")],
)
async def test_resolver_refuses_private_answers_unless_allowed(name: str, address: str) -> None:
    with pytest.raises(PrivateTargetError) as info:
        await GuardedResolver(base=BASE).resolve(name, 80)
    assert info.value.address == address and name in str(info.value)
    allowed = await GuardedResolver(base=BASE, allow_private=True).resolve(name, 80)
    assert [a["host"] for a in allowed] == [address]


async def test_resolver_keeps_public_answers_and_pins() -> None:
    guard = GuardedResolver(base=BASE, pins={"internal.test": "127.0.0.9"})
    mixed = await guard.resolve("mixed.test", 443)
    assert [(a["host"], a["port"]) for a in mixed] == [("93.184.216.34", 443)]
    # An operator pin is trusted even when private, and the base resolver is not asked.
    calls = len(BASE.calls)
    pinned = await guard.resolve("INTERNAL.test.", 80)
    assert [a["host"] for a in pinned] == ["127.0.0.9"] and pinned[0]["family"] == socket.AF_INET
    assert len(BASE.calls) == calls
    with pytest.raises(PrivateTargetError):
        await guard.resolve("10.1.2.3", 80)
    with pytest.raises(socket.gaierror):
        await guard.resolve("unknown.test", 80)


async def test_checker_refuses_names_resolving_to_private_addresses(farm: LinkFarm) -> None:
    base = MappingResolver(
        {"internal.test": "10.0.0.5", "metadata.test": "169.254.169.254", "six.test": "::1"}
    )
    async with Checker(make_settings(), resolver=base) as checker:
        results = await checker.check_many(
            [
                "http://internal.test/",
                "http://metadata.test/latest/meta-data/",
                "http://six.test:8080/",
            ]
        )
    assert [r.outcome for r in results.values()] == [Outcome.PRIVATE_TARGET] * 3
    assert results["http://metadata.test/latest/meta-data/"].error == (
        "metadata.test resolves to 169.254.169.254 (a link-local address)"
    )


async def test_name_resolving_to_loopback_refused_by_default_allowed_with_flag(
    farm: LinkFarm,
) -> None:
    # Not a pin: what "DNS" says about this name is a loopback address (the farm's).
    base = MappingResolver({"sneaky.test": farm.ips[0]})
    url = farm.url("/ok", host="sneaky.test")
    async with Checker(make_settings(), resolver=base) as checker:
        refused = await checker.check(url)
    assert refused.outcome is Outcome.PRIVATE_TARGET
    assert farm.count("/ok") == 0
    async with Checker(make_settings(allow_private=True), resolver=base) as checker:
        allowed = await checker.check(url)
    assert allowed.outcome is Outcome.OK
    assert farm.count("/ok", host="sneaky.test") == 1


async def test_redirects_to_private_targets_are_refused(farm: LinkFarm) -> None:
    base = MappingResolver({"localhost": "127.0.0.1"})
    async with Checker(make_settings(farm), resolver=base) as checker:
        literal = await checker.check(farm.url("/redirect/literal"))
        by_name = await checker.check(farm.url("/redirect/localhost"))
    assert literal.outcome is Outcome.PRIVATE_TARGET
    assert literal.error == f"{farm.ips[0]} is a loopback address"
    assert literal.hops[0].status == 302  # the first hop was fetched, the private one was not
    assert by_name.outcome is Outcome.PRIVATE_TARGET
    assert by_name.error == "localhost resolves to 127.0.0.1 (a loopback address)"
    assert farm.count("/ok") == 0
    async with Checker(make_settings(farm, allow_private=True), resolver=base) as checker:
        allowed = await checker.check(farm.url("/redirect/literal"))
    assert allowed.outcome is Outcome.OK and farm.count("/ok") == 1


@pytest.mark.parametrize("host", ["127.0.0.2", "[::1]", "[::ffff:127.0.0.2]", "0.0.0.0"])
async def test_private_literals_refused(farm: LinkFarm, host: str) -> None:
    async with Checker(make_settings()) as checker:
        result = await checker.check(f"http://{host}:{farm.port}/ok")
    assert result.outcome is Outcome.PRIVATE_TARGET
    assert farm.count("/ok") == 0


async def test_the_client_alone_guards_literals(farm: LinkFarm) -> None:
    """build_client's transport refuses private literals even without the Checker's own check."""
    client = build_client(make_settings())
    try:
        with pytest.raises(PrivateTargetError):
            await client.get(f"http://{farm.ips[0]}:{farm.port}/ok")
    finally:
        await client.aclose()
    client = build_client(make_settings(allow_private=True))
    try:
        response = await client.get(f"http://{farm.ips[0]}:{farm.port}/ok")
    finally:
        await client.aclose()
    assert response.status_code == 200 and farm.count("/ok") == 1


async def test_dns_failure_is_dns_error_and_pins_still_work(farm: LinkFarm) -> None:
    failing = FailingResolver()
    async with Checker(make_settings(farm), resolver=failing) as checker:
        gone = await checker.check("http://gone.test/page")
        pinned = await checker.check(farm.url("/ok"))
    assert gone.outcome is Outcome.DNS_ERROR
    assert gone.error == "cannot resolve gone.test: Name or service not known"
    assert failing.calls == ["gone.test"]
    assert pinned.outcome is Outcome.OK


def test_cli_overrides() -> None:
    base = ChecksSettings(resolve=["a.test:10.0.0.1"])
    merged = with_cli_overrides(
        base, resolve=["a.test:10.0.0.2", "b.test:[::1]"], allow_private=True
    )
    assert parse_pins(merged.resolve) == {"a.test": "10.0.0.2", "b.test": "::1"}
    assert merged.allow_private and not base.allow_private
    assert with_cli_overrides(ChecksSettings(allow_private=True)).allow_private
    with pytest.raises(UsageError, match="expected HOST:IP"):
        with_cli_overrides(base, resolve=["nonsense"])
