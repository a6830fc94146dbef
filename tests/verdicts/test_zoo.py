"""The labelled zoo: every site behaviour checked through the real Checker, each verdict right."""

from __future__ import annotations

import pytest

from service.checks.checker import Checker
from service.model import Outcome
from tests.support.farm import LinkFarm
from tests.verdicts.conftest import dns, settings_for
from tests.verdicts.zoo import ZOO, special_cases


def test_the_zoo_is_big_and_labelled() -> None:
    labels = [c.label for c in ZOO]
    assert len(set(labels)) == len(labels) >= 40
    assert len({c.host for c in ZOO}) >= 30


async def test_every_zoo_behaviour_gets_its_verdict(zoo_farm: LinkFarm) -> None:
    cases = {zoo_farm.url(c.path, host=c.host, scheme=c.scheme): c for c in ZOO}
    specials = {url: (label, outcome) for label, url, outcome in special_cases(zoo_farm)}
    settings = settings_for(zoo_farm, timeout_s=2.5, max_body_bytes=64 * 1024)
    async with Checker(settings, resolver=dns(), verify=zoo_farm.client_ssl_context()) as checker:
        results = await checker.check_many([*cases, *specials])
    wrong = [
        f"{c.label}: expected {c.outcome}, got {results[u].outcome} ({results[u].error})"
        for u, c in cases.items()
        if results[u].outcome is not c.outcome
    ]
    wrong += [
        f"{label}: expected {outcome}, got {results[u].outcome} ({results[u].error})"
        for u, (label, outcome) in specials.items()
        if results[u].outcome is not outcome
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("host", "path", "final", "permanent"),
    [
        ("moved.test", "/old", "/new", True),
        ("moved.test", "/mixed", "/new", False),
    ],
)
async def test_moved_links_report_the_new_address(
    zoo_farm: LinkFarm, host: str, path: str, final: str, permanent: bool
) -> None:
    async with Checker(settings_for(zoo_farm)) as checker:
        result = await checker.check(zoo_farm.url(path, host=host))
    assert result.outcome is Outcome.MOVED
    assert result.final_url == zoo_farm.url(final, host=host)
    assert result.permanent_redirect is permanent


async def test_cross_domain_move_is_permanent(zoo_farm: LinkFarm) -> None:
    async with Checker(settings_for(zoo_farm)) as checker:
        result = await checker.check(zoo_farm.url("/post", host="olddomain.test"))
    assert result.outcome is Outcome.MOVED and result.permanent_redirect
    assert result.final_url == zoo_farm.url("/post", host="newdomain.test")


async def test_verdicts_explain_themselves(zoo_farm: LinkFarm) -> None:
    async with Checker(settings_for(zoo_farm)) as checker:
        soft = await checker.check(zoo_farm.url("/products/blue-widget", host="all200.test"))
        titled = await checker.check(zoo_farm.url("/guide/deleted", host="title404.test"))
        home = await checker.check(zoo_farm.url("/blog/old-post", host="tohome.test"))
        wall = await checker.check(zoo_farm.url("/paper", host="cf503.test"))
    assert soft.error is not None and "made-up address" in soft.error
    assert titled.error is not None and "Page Not Found" in titled.error
    assert home.error == f"redirected to {zoo_farm.url('/', host='tohome.test')}"
    assert wall.error == "HTTP 503: a bot challenge page"
