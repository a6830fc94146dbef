"""The fake Wayback server speaks the real shapes, and linkwatch's CDX parsers read them."""

from __future__ import annotations

import json

import httpx
import pytest

from service.archive.wayback import (
    ArchiveBlocked,
    CdxQuery,
    WaybackApi,
    WaybackEndpoints,
    parse_cdx_json,
    parse_cdx_text,
)
from tests.support.fake_wayback import FailBlocked, FakeCapture, FakeWayback, surt

URL = "https://www.example.com/page"


def _captures() -> dict[str, list[FakeCapture]]:
    return {
        URL: [
            FakeCapture("20150101000000", body="<html>2015</html>"),
            FakeCapture("20180101000000", status=404, body="gone"),
            FakeCapture("20200601000000", body="<html>2020</html>"),
            FakeCapture("20230101000000", body="<html>2023</html>"),
        ],
        "https://example.com/other": [FakeCapture("20210101000000")],
    }


async def _get(server: FakeWayback, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        return await http.get(path, params=params)


async def test_cdx_plain_text_has_seven_fields_per_line() -> None:
    async with FakeWayback(_captures()) as wb:
        r = await _get(wb, "/cdx/search/cdx", url="example.com/page")
    lines = r.text.strip().splitlines()
    assert len(lines) == 4
    assert all(len(line.split(" ")) == 7 for line in lines)
    urlkey, ts, original, mime, status, digest, length = lines[1].split(" ")
    assert (urlkey, ts, original, mime, status) == (
        "com,example)/page",
        "20180101000000",
        URL,
        "text/html",
        "404",
    )
    assert len(digest) == 32 and length == "4"
    records = parse_cdx_text(r.text)
    assert [rec.timestamp for rec in records] == [
        "20150101000000",
        "20180101000000",
        "20200601000000",
        "20230101000000",
    ]
    assert records[1].status == 404


async def test_cdx_json_header_row_and_empty_list() -> None:
    async with FakeWayback(_captures()) as wb:
        full = await _get(wb, "/cdx/search/cdx", url=URL, output="json")
        empty = await _get(wb, "/cdx/search/cdx", url="https://nowhere.example/", output="json")
    rows = full.json()
    assert rows[0] == [
        "urlkey",
        "timestamp",
        "original",
        "mimetype",
        "statuscode",
        "digest",
        "length",
    ]
    assert len(rows) == 5
    assert empty.json() == []
    assert [r.timestamp for r in parse_cdx_json(full.text)] == [row[1] for row in rows[1:]]
    assert parse_cdx_json(empty.text) == []


async def test_cdx_filters_sort_limits_and_ranges() -> None:
    async with FakeWayback(_captures()) as wb:
        ok_only = await _get(wb, "/cdx/search/cdx", url=URL, filter="statuscode:200")
        not_ok = await _get(wb, "/cdx/search/cdx", url=URL, filter="!statuscode:200")
        closest = await _get(
            wb, "/cdx/search/cdx", url=URL, sort="closest", closest="20190101", limit="1"
        )
        last = await _get(wb, "/cdx/search/cdx", url=URL, limit="-1")
        first2 = await _get(wb, "/cdx/search/cdx", url=URL, limit="2")
        ranged = await _get(wb, "/cdx/search/cdx", url=URL, **{"from": "2016", "to": "2020"})
        prefix = await _get(wb, "/cdx/search/cdx", url="example.com/", matchType="prefix")
        resumable = await _get(wb, "/cdx/search/cdx", url=URL, limit="1", showResumeKey="true")

    def stamps(r: httpx.Response) -> list[str]:
        return [rec.timestamp for rec in parse_cdx_text(r.text)]

    assert stamps(ok_only) == ["20150101000000", "20200601000000", "20230101000000"]
    assert stamps(not_ok) == ["20180101000000"]
    assert stamps(closest) == ["20180101000000"]
    assert stamps(last) == ["20230101000000"]
    assert stamps(first2) == ["20150101000000", "20180101000000"]
    assert stamps(ranged) == ["20180101000000", "20200601000000"]
    assert len(parse_cdx_text(prefix.text)) == 5
    body = resumable.text.splitlines()
    assert body[1] == "" and body[2].startswith("fake-resume-")
    assert stamps(resumable) == ["20150101000000"]


async def test_availability_shapes() -> None:
    async with FakeWayback(_captures()) as wb:
        hit = (await _get(wb, "/wayback/available", url=URL, timestamp="20190101")).json()
        miss = (await _get(wb, "/wayback/available", url="https://nowhere.example/")).json()
    closest = hit["archived_snapshots"]["closest"]
    assert closest == {
        "status": "200",
        "available": True,
        "timestamp": "20200601000000",
        "url": f"http://web.archive.org/web/20200601000000/{URL}",
    }
    assert miss == {"url": "https://nowhere.example/", "archived_snapshots": {}}


async def test_playback_redirects_to_the_capture_and_id_serves_raw_bytes() -> None:
    async with FakeWayback(_captures()) as wb, httpx.AsyncClient(base_url=wb.base_url) as http:
        redirect = await http.get(f"/web/2016/{URL}")
        raw = await http.get(f"/web/20150101000000id_/{URL}")
        shown = await http.get(f"/web/20150101000000/{URL}")
        gone = await http.get(f"/web/20180101000000id_/{URL}")
        unknown = await http.get("/web/2020/https://nowhere.example/")
    assert redirect.status_code == 302
    assert redirect.headers["location"] == f"/web/20150101000000/{URL}"
    assert raw.text == "<html>2015</html>"
    assert shown.text.endswith("<html>2015</html>") and "WAYBACK TOOLBAR" in shown.text
    assert gone.status_code == 404
    assert unknown.status_code == 404


async def test_blocked_site_is_the_real_error_body() -> None:
    async with FakeWayback(_captures()) as wb:
        wb.block_site(URL)
        r = await _get(wb, "/cdx/search/cdx", url=URL)
        api = WaybackApi(wb.base_url, timeout_s=5)
        with pytest.raises(ArchiveBlocked):
            await _in_thread(api, CdxQuery(URL, limit=1))
        wb.blocked.clear()
        wb.fail_with(FailBlocked(), endpoints=["cdx"])
        with pytest.raises(ArchiveBlocked):
            await _in_thread(api, CdxQuery(URL, limit=1))
    assert r.status_code == 403
    assert "AdministrativeAccessControlException: Blocked Site Error" in r.text


async def _in_thread(api: WaybackApi, query: CdxQuery) -> object:
    import asyncio

    return await asyncio.to_thread(api.cdx_first, query)


def test_surt_ignores_scheme_and_www() -> None:
    assert surt("https://www.Example.com/A?b=1") == "com,example)/a?b=1"
    assert surt("http://example.com") == "com,example)/"


def test_endpoints_derive_from_one_base() -> None:
    ep = WaybackEndpoints.from_base("http://127.0.0.9:8080/")
    assert ep.cdx == "http://127.0.0.9:8080/cdx/search/cdx"
    assert ep.availability == "http://127.0.0.9:8080/wayback/available"
    assert ep.save == "http://127.0.0.9:8080/save"
    assert ep.save_status("spn2-1") == "http://127.0.0.9:8080/save/status/spn2-1"
    assert ep.playback("20200101000000", URL) == f"http://127.0.0.9:8080/web/20200101000000/{URL}"
    assert ep.raw("20200101000000", URL) == f"http://127.0.0.9:8080/web/20200101000000id_/{URL}"


def test_parse_cdx_json_rejects_garbage() -> None:
    from service.errors import ArchiveError

    with pytest.raises(ArchiveError):
        parse_cdx_json("<html>busy</html>")
    with pytest.raises(ArchiveError):
        parse_cdx_json(json.dumps([["a", "b"], ["1", "2"]]))
    with pytest.raises(ArchiveError):
        parse_cdx_text("com,example)/ 2020 too few\n")


def test_runs_in_a_thread_for_sync_tests() -> None:
    with FakeWayback(_captures()).running_in_thread() as wb:
        r = httpx.get(f"{wb.base_url}/cdx/search/cdx", params={"url": URL, "output": "json"})
    assert len(r.json()) == 5
    assert wb.count("cdx") == 1
