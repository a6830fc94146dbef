"""Fixtures of the checker tests: one link farm per session (in its own thread), fast settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from service.settings import ChecksSettings
from tests.support.farm import LinkFarm


@pytest.fixture(scope="session")
def farm_server() -> Iterator[LinkFarm]:
    with LinkFarm() as farm:
        yield farm


@pytest.fixture
def farm(farm_server: LinkFarm) -> LinkFarm:
    farm_server.reset()
    return farm_server


def make_settings(farm: LinkFarm | None = None, **overrides: Any) -> ChecksSettings:
    """Short deadlines, no politeness delay, the farm's names pinned."""
    values: dict[str, Any] = {
        "timeout_s": 2.0,
        "connect_timeout_s": 2.0,
        "per_host_interval_s": 0.0,
    }
    if farm is not None:
        values["resolve"] = farm.pins
    values.update(overrides)
    return ChecksSettings(**values)
