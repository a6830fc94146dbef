"""The link farm itself: standalone process, added behaviours, server-side request log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from aiohttp import web

from service.checks.checker import Checker
from service.model import Outcome
from tests.checks.conftest import make_settings
from tests.support.farm import LinkFarm

ROOT = Path(__file__).resolve().parents[2]


async def test_standalone_farm_process_serves_the_same_paths() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.farm", "--ips", "127.0.0.5,127.0.0.6,127.0.0.7"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        port = info["port"]
        assert "farm.test:127.0.0.5" in info["pins"]
        settings = make_settings(resolve=info["pins"])
        async with Checker(settings) as checker:
            results = await checker.check_many(
                [
                    f"http://farm.test:{port}/ok",
                    f"http://farm.test:{port}/status/410",
                    f"http://farm.test:{port}/redirect/301/other",
                    f"http://farm.test:{info['raw_ports']['refused']}/",
                ]
            )
        assert [r.outcome for r in results.values()] == [
            Outcome.OK,
            Outcome.NOT_FOUND,
            Outcome.MOVED,
            Outcome.REFUSED,
        ]
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


async def test_added_behaviours_and_request_log() -> None:
    async def teapot(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
        return web.Response(status=418, text=request.path)

    async with LinkFarm(("127.0.0.8",)) as farm:
        farm.add("/teapot", teapot)
        farm.add("/pots/", teapot)
        assert farm.hosts["other.test"] == "127.0.0.8"  # one IP serves every name
        async with Checker(make_settings(farm)) as checker:
            one = await checker.check(farm.url("/teapot"))
            two = await checker.check(farm.url("/pots/deep/path", host="third.test"))
            missing = await checker.check(farm.url("/no/such/path"))
    assert one.outcome is Outcome.BLOCKED and one.http_status == 418
    assert two.http_status == 418 and missing.http_status == 404
    # Each 4xx HEAD is followed by a GET.
    assert farm.count("/teapot") == 2 and farm.count("/teapot", method="GET") == 1
    assert farm.count(host="third.test") == 2
    assert all(r.ended is not None and r.ended >= r.started for r in farm.requests)
    gap = farm.min_gap("farm.test")
    assert gap is not None and gap >= 0
    assert farm.max_concurrency("farm.test") == 1
    farm.reset()
    assert farm.requests == [] and farm.max_concurrency("farm.test") == 0
