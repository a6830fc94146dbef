"""`linkwatch check` end to end: real farm on loopback, real databases, the real CLI entry point."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp import web

from service.cli.app import run
from tests.support.farm import LinkFarm

SEED = Path(__file__).resolve().parents[2] / "config" / "articles" / "us-intransigence-trump-kim.md"

# path on the farm -> the outcome `linkwatch check` must report for it
CLI_TABLE = {
    "/ok": "ok",
    "/status/404": "not_found",
    "/status/410": "not_found",
    "/status/500": "server_error",
    "/unavailable": "server_error",
    "/retry-after/seconds": "rate_limited",
    "/status/403": "blocked",
    "/status/401": "blocked",
    "/redirect/301": "moved",
    "/redirect/308": "moved",
    "/redirect/302": "ok",
    "/redirect/307": "ok",
    "/chain/3?code=302&host=other": "ok",
    "/chain/15": "too_many_redirects",
    "/loop/a": "too_many_redirects",
    "/trivial/slash": "ok",
    "/head/405": "ok",
    "/head/404": "ok",
    "/endless": "ok",
    "/bomb": "ok",
    "/drip": "timeout",
    "/redirect/literal": "private_target",
}


@pytest.fixture(scope="module")
def farm() -> Iterator[LinkFarm]:
    with LinkFarm() as running:

        async def article(request: web.Request, farm: LinkFarm) -> web.Response:
            body = (
                "<html><head><title>Farm post</title>"
                '<meta property="article:published_time" content="2020-01-02T00:00:00Z"></head>'
                f'<body><a href="{farm.url("/ok")}">alive</a> '
                f'<a href="{farm.url("/status/404")}">gone</a> <a href="#">lost</a></body></html>'
            )
            return web.Response(text=body, content_type="text/html")

        running.add("/post.html", article)
        yield running


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str, farm: LinkFarm) -> str:
    """An empty config (not the example one), a fresh database, short deadlines, no archive,
    and the monitor's canary on the farm (so network failures are the links', not ours)."""
    config = tmp_path / "linkwatch.toml"
    config.write_text("[wayback]\nenabled = false\n", encoding="utf-8")
    monkeypatch.setenv("LINKWATCH_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LINKWATCH_CHECKS__TIMEOUT_S", "3")
    monkeypatch.setenv("LINKWATCH_CHECKS__RETRIES", "0")
    monkeypatch.setenv("LINKWATCH_CHECKS__RETRY_AFTER_CAP_S", "1")  # 429/503 hold a host briefly
    monkeypatch.setenv("LINKWATCH_CHECKS__CANARIES", farm.url("/ok"))
    monkeypatch.chdir(tmp_path)
    return db_url


def _article(tmp_path: Path, urls: list[str]) -> Path:
    path = tmp_path / "post.md"
    lines = ["# A post", ""] + [f"- [link {i}]({u})" for i, u in enumerate(urls)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    out = capsys.readouterr().out
    data = json.loads(out)  # stdout holds the JSON document and nothing else
    assert isinstance(data, list)
    return data


def test_every_farm_behaviour_through_the_cli(
    farm: LinkFarm, env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = {farm.url(path): outcome for path, outcome in CLI_TABLE.items()}
    urls[farm.refused_url] = "refused"
    urls[farm.url("/ok", host="secure.test", scheme="https")] = "tls_error"  # self-signed CA
    post = _article(tmp_path, list(urls))
    code = run(["check", str(post), "--format", "json", *farm.resolve_args()])
    rows = _json(capsys)
    assert code == 1  # some links are broken
    seen = {row["href"]: row["outcome"] for row in rows}
    assert seen == urls
    for row in rows:
        assert set(row) >= {
            "article",
            "anchor_text",
            "href",
            "url",
            "kind",
            "outcome",
            "health",
            "http_status",
            "final_url",
            "checked_at",
            "archive",
        }
    moved = next(r for r in rows if r["href"] == farm.url("/redirect/301"))
    assert moved["final_url"] == farm.url("/ok")
    assert moved["http_status"] == 200


def test_history_is_recorded_on_each_run(
    farm: LinkFarm, env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    post = _article(tmp_path, [farm.url("/ok"), farm.url("/status/404")])
    assert run(["check", str(post), *farm.resolve_args()]) == 1
    assert run(["check", str(post), *farm.resolve_args()]) == 1
    engine = sa.create_engine(env)
    try:
        with engine.connect() as conn:
            links = conn.execute(sa.text("SELECT COUNT(*) FROM links")).scalar()
            checks = conn.execute(sa.text("SELECT COUNT(*) FROM checks")).scalar()
            health = dict(conn.execute(sa.text("SELECT url, health FROM links")).all())
    finally:
        engine.dispose()
    assert links == 2
    assert checks == 4  # every run is a history row per link
    assert health[farm.url("/ok")] == "alive"
    assert health[farm.url("/status/404")] == "suspect"  # one run cannot confirm death


def test_nothing_broken_exits_0_and_markdown_output(
    farm: LinkFarm, env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    post = _article(tmp_path, [farm.url("/ok"), farm.url("/redirect/302")])
    assert run(["check", str(post), "--format", "markdown", *farm.resolve_args()]) == 0
    out = capsys.readouterr().out
    assert "A post" in out
    assert "|" in out  # a Markdown table


def test_seed_article_has_its_55_occurrences(
    farm: LinkFarm, env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The one http link is pinned to the farm's address, where nothing listens on port 80.
    ip = farm.pins[0].split(":", 1)[1]
    pin = f"www.globalresearch.ca:{ip}"
    code = run(["check", str(SEED), "--format", "json", "--resolve", pin, *farm.resolve_args()])
    rows = _json(capsys)
    assert len(rows) == 55
    assert Counter(r["kind"] for r in rows) == {"placeholder": 52, "mailto": 2, "http": 1}
    http = next(r for r in rows if r["kind"] == "http")
    assert http["href"] == "http://www.globalresearch.ca"
    assert http["outcome"] == "refused"
    assert code == 1
    assert {r["article"] for r in rows} == {str(SEED)}


def test_private_target_refused_by_default_and_allowed_with_the_flag(
    farm: LinkFarm, env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ip = farm.pins[0].split(":", 1)[1]
    port = farm.url("/ok").split(":")[2].split("/")[0]
    url = f"http://{ip}:{port}/ok"
    post = _article(tmp_path, [url])
    run(["check", str(post), "--format", "json"])
    assert _json(capsys)[0]["outcome"] == "private_target"
    assert run(["check", str(post), "--format", "json", "--allow-private"]) == 0
    assert _json(capsys)[0]["outcome"] == "ok"


def test_an_article_given_by_url(
    farm: LinkFarm, env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["check", farm.url("/post.html"), "--format", "json", *farm.resolve_args()])
    rows = _json(capsys)
    assert code == 1
    assert {r["anchor_text"]: r["outcome"] for r in rows} == {
        "alive": "ok",
        "gone": "not_found",
        "lost": None,
    }
    assert {r["kind"] for r in rows} == {"http", "placeholder"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "no/such/file.md"], "no/such/file.md"),
        (["check", "post.md", "--format", "yaml"], "unknown format"),
        (["check", "post.md", "--resolve", "nonsense"], "bad --resolve pin"),
        (["check", "post.md", "--published", "yesterday"], "--published"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "post.md").write_text("[x](http://example.org/)\n", encoding="utf-8")
    assert run(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("linkwatch: ")
    assert message in err[0]
    assert "Traceback" not in captured.err
