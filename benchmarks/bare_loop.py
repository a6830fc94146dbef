"""A bare check loop over a URL list: the in-process limit of the httpx stack, no linkwatch.

    python benchmarks/bare_loop.py --transport aiohttp|httpx URLS_FILE [--concurrency 128]

Same protocol as linkwatch's checker: HEAD, redirects followed, then GET when the final status
is >= 400 (servers that mishandle HEAD); at most `--concurrency` checks in flight; one shared
`httpx.AsyncClient` on either `httpx_aiohttp.AiohttpTransport` (aiohttp's C parser) or httpx's
default transport (httpcore + h11). Prints one JSON line: {"checked", "broken", "statuses"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from pathlib import Path

import httpx


def make_client(transport: str, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    if transport == "aiohttp":
        import aiohttp
        from httpx_aiohttp import AiohttpTransport

        def session() -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
            return aiohttp.ClientSession(connector=connector)

        return httpx.AsyncClient(transport=AiohttpTransport(client=session), limits=limits)
    return httpx.AsyncClient(limits=limits)


async def check_all(urls: list[str], transport: str, concurrency: int) -> dict[str, object]:
    gate = asyncio.Semaphore(concurrency)
    statuses: Counter[int] = Counter()
    async with make_client(transport, concurrency) as client:

        async def one(url: str) -> None:
            async with gate:
                response = await client.head(url, follow_redirects=True)
                if response.status_code >= 400:
                    response = await client.get(url, follow_redirects=True)
                statuses[response.status_code] += 1

        await asyncio.gather(*(one(u) for u in urls))
    broken = sum(n for code, n in statuses.items() if code >= 400)
    return {"checked": sum(statuses.values()), "broken": broken, "statuses": dict(statuses)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=("aiohttp", "httpx"), required=True)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("urls", type=Path)
    args = parser.parse_args()
    urls = [line.strip() for line in args.urls.read_text().splitlines() if line.strip()]
    print(json.dumps(asyncio.run(check_all(urls, args.transport, args.concurrency))))


if __name__ == "__main__":
    main()
