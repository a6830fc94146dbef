"""Fixtures of the verdict tests: one link farm with the zoo's sites, in its own thread."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from service.checks.guard import MappingResolver
from service.settings import ChecksSettings
from tests.support.farm import LinkFarm
from tests.verdicts import zoo

ZOO_IPS = ("127.0.0.21", "127.0.0.22", "127.0.0.23")


@pytest.fixture(scope="session")
def zoo_server() -> Iterator[LinkFarm]:
    farm = LinkFarm(ZOO_IPS)
    zoo.install(farm)
    with farm:
        yield farm


@pytest.fixture
def zoo_farm(zoo_server: LinkFarm) -> LinkFarm:
    zoo_server.reset()
    return zoo_server


def settings_for(farm: LinkFarm, **overrides: Any) -> ChecksSettings:
    """Short deadlines, no politeness delay, the zoo's names pinned, no canaries."""
    values: dict[str, Any] = {
        "timeout_s": 3.0,
        "connect_timeout_s": 2.0,
        "per_host_interval_s": 0.0,
        "resolve": farm.pins,
        "canaries": [],
    }
    values.update(overrides)
    return ChecksSettings(**values)


def dns() -> MappingResolver:
    """What DNS says outside the pins: only `intranet.corp` exists (at a private address)."""
    return MappingResolver({"intranet.corp": "10.1.2.3"})
